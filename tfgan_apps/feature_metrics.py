"""FID and KID between two image sets, streamed, in the features of a pluggable extractor.

- **FID** (Heusel et al. 2017): ``||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))`` of the
  feature means and covariances. :class:`FeatureMoments` keeps running float64 sums, so no set
  is ever held in memory (``D x D`` floats for ``D``-dimensional features).
- **KID** (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x . y / D + 1)^3``, averaged over random subsets (mean and standard deviation).
  It needs features, not moments: :class:`FeatureMoments` keeps a uniform reservoir sample of at
  most ``kid_sample`` of them.

Feature extractors map float32 ``[batch, H, W, C]`` images in [-1, 1] to ``[batch, D]``:

- :func:`inception_v3_extractor`: Keras's ``InceptionV3`` (ImageNet weights, 2048-d average
  pool) at 299x299, the network of published FIDs. Its weights are read from the local Keras
  cache (this package never downloads); a missing file is a one-line error naming where to put
  it. Figures are close to, not identical with, those of the original TF1 FID graph.
- :func:`keras_model_extractor`: any ``.keras`` model (loaded with safe_mode), e.g. a
  classifier of your own domain.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.errors import UserError, UserPathError

#: images float32 [batch, H, W, C] in [-1, 1] -> features float32 [batch, D]
FeatureExtractor = Callable[[tf.Tensor], tf.Tensor]

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                         f"inception_v3/{INCEPTION_WEIGHTS_FILE}")


class FeatureMoments:
    """Running mean and covariance of feature vectors, plus a reservoir sample for KID.

    Args:
        kid_sample: at most this many features are kept (uniformly sampled) for KID; 0 keeps
            none.
        seed: the reservoir's sampling seed.
    """

    def __init__(self, kid_sample: int = 5000, seed: int = 0) -> None:
        self.count = 0
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None
        self.kid_sample = int(kid_sample)
        self.sample: np.ndarray | None = None
        self._rng = np.random.default_rng(seed)

    def update(self, features: Any) -> None:
        """Add ``[batch, D]`` features."""
        f = np.asarray(features, np.float64)
        f = f.reshape(len(f), -1)
        if self._sum is None:
            self._sum = np.zeros(f.shape[1])
            self._outer = np.zeros((f.shape[1], f.shape[1]))
            self.sample = np.zeros((0, f.shape[1]), np.float32)
        elif f.shape[1] != self._sum.shape[0]:
            raise ValueError(f"features of size {f.shape[1]} after {self._sum.shape[0]}")
        self._sum += f.sum(0)
        self._outer += f.T @ f
        self._reservoir(f.astype(np.float32))
        self.count += len(f)

    def _reservoir(self, f: np.ndarray) -> None:
        if not self.kid_sample:
            return
        free = self.kid_sample - len(self.sample)
        if free > 0:
            self.sample = np.concatenate([self.sample, f[:free]])
        # Algorithm R: the i-th feature (0-based, seen overall) replaces a kept one with
        # probability kid_sample / (i + 1)
        for i in range(max(free, 0), len(f)):
            j = int(self._rng.integers(0, self.count + i + 1))
            if j < self.kid_sample:
                self.sample[j] = f[i]

    @property
    def mean(self) -> np.ndarray:
        """float64 ``[D]``."""
        self._check(1)
        return self._sum / self.count

    @property
    def covariance(self) -> np.ndarray:
        """float64 ``[D, D]``, unbiased (``n - 1``)."""
        self._check(2)
        mean = self.mean
        return (self._outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    def _check(self, needed: int) -> None:
        if self.count < needed:
            raise UserError(f"at least {needed} images are needed, got {self.count}")


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mean_a: Any, cov_a: Any, mean_b: Any, cov_b: Any) -> float:
    """The Frechet distance of two Gaussians (FID's formula).

    ``tr((C_a C_b)^(1/2))`` is computed as the trace of ``(S C_b S)^(1/2)`` with ``S = C_a^(1/2)``,
    a symmetric positive semi-definite matrix with the same eigenvalues, so no complex square
    roots arise from round-off.
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    root = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root @ cov_b @ root)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def fid(a: FeatureMoments, b: FeatureMoments) -> float:
    """FID between the features accumulated in ``a`` and ``b``."""
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def _polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) - 2 * k_xy.mean())


def kernel_inception_distance(x: Any, y: Any, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID of two feature sets ``[N, D]``: mean and standard deviation over ``subsets``
    random subsets of ``min(subset_size, N_x, N_y)`` features each."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise UserError(f"KID needs at least 2 images per set, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    values = [_polynomial_mmd(x[rng.choice(len(x), size, replace=False)],
                              y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def keras_cache_dir() -> str:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` (default ``~/.keras``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def _resized_for(model: keras.Model, images: tf.Tensor) -> tf.Tensor:
    height, width, channels = model.input_shape[1:4]
    images = tf.convert_to_tensor(images, tf.float32)
    if channels == 3 and images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    elif channels == 1 and images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images)
    if height and width and tuple(images.shape[1:3]) != (height, width):
        images = tf.image.resize(images, (height, width), method="bilinear", antialias=True)
    return images


def inception_v3_extractor(weights_path: str | None = None) -> FeatureExtractor:
    """InceptionV3's 2048-d average-pool features of images resized to 299x299.

    Args:
        weights_path: the ``..._notop.h5`` ImageNet weights; default the Keras cache's
            :data:`INCEPTION_WEIGHTS_FILE`.

    Raises:
        UserPathError: the weights file is not there (the message names the file and where
            it comes from).
    """
    path = weights_path or os.path.join(keras_cache_dir(), INCEPTION_WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise UserPathError(f"InceptionV3 weights not found at {path}: download "
                            f"{INCEPTION_WEIGHTS_URL} to that path (nothing is downloaded at run "
                            "time), or pass a .keras feature model instead")
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=path,
                                           input_shape=(299, 299, 3))

    @tf.function(reduce_retracing=True)
    def extract(images: tf.Tensor) -> tf.Tensor:
        # [-1, 1] is InceptionV3's own input range (keras.applications.inception_v3's
        # preprocess_input maps [0, 255] there)
        return model(_resized_for(model, images), training=False)

    return extract


def keras_model_extractor(path: str) -> FeatureExtractor:
    """The outputs of the ``.keras`` model at ``path`` (its first output, flattened), given
    float32 images in [-1, 1] resized to its input size and converted to its channels."""
    from tfgan_apps.runs import load_keras_file  # (runs imports training code; only here)

    if not os.path.isfile(path):
        raise UserPathError(f"feature model {path} does not exist")
    model = load_keras_file(path)

    @tf.function(reduce_retracing=True)
    def extract(images: tf.Tensor) -> tf.Tensor:
        outputs = model(_resized_for(model, images), training=False)
        outputs = keras.tree.flatten(outputs)[0]
        return tf.reshape(outputs, (tf.shape(outputs)[0], -1))

    return extract


#: the original FID graph (Heusel et al. 2017, TTUR's ``fid.py``), inside this archive
FID_GRAPH_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
FID_GRAPH_FILE = "classify_image_graph_def.pb"


def fid_inception_graph_extractor(path: str) -> FeatureExtractor:
    """The ``pool_3`` features (2048-d) of the original FID Inception graph, for FID figures
    comparable with published ones (Keras's InceptionV3 weights differ from it).

    The frozen TF1 GraphDef (:data:`FID_GRAPH_FILE` from :data:`FID_GRAPH_URL`) is imported into
    a ``tf.compat.v1.wrap_function`` with its input ``ExpandDims:0`` mapped to ours: float
    ``[1, H, W, 3]`` in [0, 255], which the graph resizes to 299x299 itself, as the reference
    implementation feeds it. Images go through one at a time: the graph's shapes were
    frozen for a batch of one.

    Args:
        path: the ``.pb`` file.

    Raises:
        UserPathError: the file is not there (the message says where it comes from).
        UserError: the file is not that graph (no ``ExpandDims:0`` / ``pool_3:0``).
    """
    if not os.path.isfile(path):
        raise UserPathError(f"FID Inception graph {path} not found: take {FID_GRAPH_FILE} "
                            f"from {FID_GRAPH_URL} (nothing is downloaded at run time)")
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as f:
            graph_def.ParseFromString(f.read())
    except Exception as error:  # protobuf's DecodeError and friends
        raise UserError(f"{path} is not a TensorFlow GraphDef ({error})") from None

    def import_graph(images: tf.Tensor) -> tf.Tensor:
        (pool,) = tf.graph_util.import_graph_def(
            graph_def, input_map={"ExpandDims:0": images}, return_elements=["pool_3:0"],
            name="fid_inception")
        return pool

    try:
        wrapped = tf.compat.v1.wrap_function(
            import_graph, [tf.TensorSpec([1, None, None, 3], tf.float32)])
    except (ValueError, KeyError, tf.errors.OpError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise UserError(f"{path} is not the FID Inception graph (it needs the tensors "
                        f"ExpandDims:0 and pool_3:0): {first}") from None

    def extract(images: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape[-1] == 1:
            images = tf.image.grayscale_to_rgb(images)
        pixels = (images + 1.0) * 127.5
        return tf.concat([tf.reshape(wrapped(pixels[i:i + 1]), (1, -1))
                          for i in range(int(images.shape[0]))], axis=0)

    return extract


def feature_extractor(features: str = "inception") -> FeatureExtractor:
    """``"inception"`` (:func:`inception_v3_extractor`), the path of the original FID graph
    (a ``.pb`` file: :func:`fid_inception_graph_extractor`) or of a ``.keras`` model."""
    if features == "inception":
        return inception_v3_extractor()
    if features.endswith(".pb"):
        return fid_inception_graph_extractor(features)
    return keras_model_extractor(features)


def accumulate(batches: Iterable[Any], extractor: FeatureExtractor, limit: int,
               kid_sample: int = 5000, seed: int = 0) -> FeatureMoments:
    """The features of the first ``limit`` images of ``batches`` (float32 [B, H, W, C] in
    [-1, 1], or (images, ...) tuples)."""
    moments = FeatureMoments(kid_sample, seed)
    for batch in batches:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        images = images[: limit - moments.count]
        moments.update(extractor(images))
        if moments.count >= limit:
            break
    return moments


def compare_image_sets(generated: Iterable[Any], real: Iterable[Any],
                       extractor: FeatureExtractor, num: int, kid_subsets: int = 100,
                       kid_subset_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """FID and KID between the first ``num`` images of two streams of batches.

    Returns:
        ``{"fid", "kid", "kid_std", "generated_images", "real_images"}``.
    """
    a = accumulate(generated, extractor, num, seed=seed)
    b = accumulate(real, extractor, num, seed=seed + 1)
    kid, kid_std = kernel_inception_distance(a.sample, b.sample, kid_subsets, kid_subset_size,
                                             seed)
    return {"fid": fid(a, b), "kid": kid, "kid_std": kid_std, "generated_images": a.count,
            "real_images": b.count}


def fid_every(real: Iterable[Any], extractor: FeatureExtractor, num: int = 1000,
              every: int = 1, seed: int = 0) -> Any:
    """An :class:`~tfgan_apps.callbacks.EpochMetric` logging ``fid`` and ``kid`` of ``num``
    images of a DCGAN (``model.generate``, fixed noise) against the first ``num`` of ``real``
    (batches of float32 images in [-1, 1]; their features are computed once)."""
    from tfgan_apps.callbacks import EpochMetric

    reference: list[FeatureMoments] = []

    def compute(model: keras.Model) -> dict[str, float]:
        if not reference:
            reference.append(accumulate(real, extractor, num, seed=seed + 1))
        batch = 50
        generated = accumulate((model.generate(batch, seed=seed + i) for i in range(
            -(-num // batch))), extractor, num, seed=seed)
        kid, _ = kernel_inception_distance(generated.sample, reference[0].sample, subsets=20,
                                           subset_size=min(num, 1000), seed=seed)
        return {"fid": fid(generated, reference[0]), "kid": kid}

    return EpochMetric(compute, every)
