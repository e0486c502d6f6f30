"""Evaluation metrics: streaming Keras metrics usable in ``fit``/``evaluate``, and pure helpers.

Segmentation (pix2pix): every figure derives from one ``K x K`` confusion matrix ``C`` whose
entry ``C[t, p]`` counts the pixels of true class ``t`` predicted as ``p``:

- pixel accuracy ``= trace(C) / sum(C)``;
- IoU of class ``k`` ``= C[k, k] / (sum_p C[k, p] + sum_t C[t, k] - C[k, k])``
  (intersection over union of the true and predicted regions of ``k``);
- mean IoU = the mean of the per-class IoUs over the classes that occur (union > 0) in the
  labels or the predictions; a class absent from both has no IoU (NaN), not 0 or 1.

Labels outside ``[0, K)`` (e.g. a "void" 255) are ignored by every metric.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

# ------------------------------------------------------------------- segmentation: pure helpers


def confusion_matrix(labels: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """Confusion matrix of integer label maps, rows = true class, columns = predicted class.

    Args:
        labels: integer class ids, any shape (e.g. ``[batch, H, W]``); values outside
            ``[0, num_classes)`` are ignored.
        predictions: integer class ids of the same shape, or scores with one more trailing axis
            of size ``num_classes`` (logits or probabilities, reduced with argmax).
        num_classes: K.

    Returns:
        ``int64[K, K]`` counts.
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if predictions.ndim == np.ndim(labels) + 1:
        predictions = predictions.argmax(axis=-1)
    labels = labels.astype(np.int64).ravel()
    predictions = predictions.astype(np.int64).ravel()
    if predictions.shape != labels.shape:
        raise ValueError(
            f"labels and predictions hold {labels.size} and {predictions.size} pixels; "
            "they must have the same shape"
        )
    valid = (labels >= 0) & (labels < num_classes) & (predictions >= 0) & (
        predictions < num_classes)
    flat = labels[valid] * num_classes + predictions[valid]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def per_class_iou(confusion: Any) -> np.ndarray:
    """IoU of each class from a ``[K, K]`` confusion matrix (rows true, columns predicted).

    Returns:
        ``float64[K]`` in [0, 1]; NaN for a class that neither occurs nor is predicted.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    intersection = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)


def mean_iou(confusion: Any) -> float:
    """Mean of :func:`per_class_iou` over the classes present (NaN if there are none)."""
    iou = per_class_iou(confusion)
    return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan")


def pixel_accuracy(confusion: Any) -> float:
    """Fraction of correctly classified pixels, ``trace(C) / sum(C)`` (NaN when empty)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total > 0 else float("nan")


# ---------------------------------------------------------------- segmentation: streaming metrics


def _batch_confusion(labels: tf.Tensor, predictions: tf.Tensor, num_classes: int,
                     sample_weight: tf.Tensor | None = None) -> tf.Tensor:
    """One batch's float32 ``[K, K]`` confusion matrix, as a one-hot product (XLA-friendly)."""
    labels = tf.cast(labels, tf.int32)
    if predictions.shape.rank == labels.shape.rank + 1:
        predictions = tf.argmax(predictions, axis=-1, output_type=tf.int32)
    predictions = tf.cast(predictions, tf.int32)
    # tf.one_hot maps ids outside [0, K) to an all-zero row: they drop out of the counts.
    true_one_hot = tf.reshape(tf.one_hot(labels, num_classes, dtype=tf.float32),
                              [-1, num_classes])
    pred_one_hot = tf.reshape(tf.one_hot(predictions, num_classes, dtype=tf.float32),
                              [-1, num_classes])
    if sample_weight is not None:
        weight = tf.broadcast_to(tf.cast(sample_weight, tf.float32), tf.shape(labels))
        true_one_hot *= tf.reshape(weight, [-1, 1])
    # Exact in float32 while a batch has < 2**24 pixels (e.g. 1024 images of 128x128).
    return tf.matmul(true_one_hot, pred_one_hot, transpose_a=True)


@keras.saving.register_keras_serializable(package="tfgan_apps")
class SegmentationConfusionMatrix(keras.metrics.Metric):
    """Streaming ``[K, K]`` confusion matrix (rows true, columns predicted) of a segmenter.

    ``update_state(y_true, y_pred)`` takes integer labels ``[batch, H, W]`` and either logits /
    probabilities ``[batch, H, W, K]`` (argmax is taken) or predicted ids ``[batch, H, W]``.
    Labels outside ``[0, K)`` are ignored. ``result()`` is the matrix (float32 counts);
    subclasses reduce it to one figure. Counts accumulate in float64, exact up to 2**53 pixels.

    Args:
        num_classes: K.
        name: metric name.
        dtype: dtype of the result.
    """

    def __init__(self, num_classes: int, name: str = "confusion_matrix",
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.total = self.add_variable(shape=(num_classes, num_classes), initializer="zeros",
                                       dtype="float64", name="total_confusion_matrix")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        batch = _batch_confusion(tf.convert_to_tensor(y_true), tf.convert_to_tensor(y_pred),
                                 self.num_classes, sample_weight)
        self.total.assign_add(tf.cast(batch, tf.float64))

    def reset_state(self) -> None:
        self.total.assign(tf.zeros_like(self.total))

    def result(self) -> tf.Tensor:
        return tf.cast(self.total, self.dtype)

    def per_class_iou(self) -> tf.Tensor:
        """``[K]`` IoU of each class so far; NaN for a class absent from labels and
        predictions."""
        confusion = tf.cast(self.total, tf.float64)
        intersection = tf.linalg.diag_part(confusion)
        union = tf.reduce_sum(confusion, 0) + tf.reduce_sum(confusion, 1) - intersection
        iou = tf.math.divide_no_nan(intersection, union)
        return tf.cast(tf.where(union > 0, iou, tf.constant(np.nan, tf.float64)), self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="tfgan_apps")
class SegmentationMeanIoU(SegmentationConfusionMatrix):
    """Streaming mean IoU: the mean of the per-class IoUs over the classes present (union > 0)
    in what has been seen so far. Same inputs as :class:`SegmentationConfusionMatrix`.

    Example:
        >>> m = SegmentationMeanIoU(num_classes=3)
        >>> m.update_state(masks, logits)  # int [B, H, W], float [B, H, W, 3]
        >>> float(m.result()), m.per_class_iou().numpy()
    """

    def __init__(self, num_classes: int, name: str = "mean_iou", dtype: Any = None) -> None:
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self) -> tf.Tensor:
        iou = self.per_class_iou()
        present = tf.logical_not(tf.math.is_nan(iou))
        return tf.math.divide_no_nan(
            tf.reduce_sum(tf.where(present, iou, tf.zeros_like(iou))),
            tf.reduce_sum(tf.cast(present, iou.dtype)))


@keras.saving.register_keras_serializable(package="tfgan_apps")
class PixelAccuracy(SegmentationConfusionMatrix):
    """Streaming fraction of pixels whose predicted class is the true one (labels outside
    ``[0, K)`` ignored). Same inputs as :class:`SegmentationConfusionMatrix`."""

    def __init__(self, num_classes: int, name: str = "pixel_accuracy", dtype: Any = None) -> None:
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self) -> tf.Tensor:
        confusion = tf.cast(self.total, tf.float64)
        return tf.cast(tf.math.divide_no_nan(tf.linalg.trace(confusion),
                                             tf.reduce_sum(confusion)), self.dtype)


# ------------------------------------------------------------- image translation (CycleGAN)
#
# Unpaired translation is judged on three axes (no single figure suffices): fidelity to a known
# true translation (PSNR, SSIM), closeness of the output's colour distribution to the target
# domain (colour sliced-Wasserstein) and preservation of the input's content (edge correlation).
# Images are ``[batch, H, W, C]``: uint8 in [0, 255], or floats in [-1, 1] (the generators'
# range). Both operands of a comparison must use the same convention.


def _to_unit_float(images: Any) -> tf.Tensor:
    """uint8 [0, 255] or float [-1, 1] ``[..., H, W, C]`` -> float32 in [0, 1]."""
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    if not images.dtype.is_floating:
        raise ValueError(
            f"images must be uint8 in [0, 255] or float in [-1, 1], got {images.dtype}"
        )
    return (tf.cast(images, tf.float32) + 1.0) / 2.0


def _check_same_shape(images: tf.Tensor, references: tf.Tensor) -> None:
    if images.shape != references.shape:
        raise ValueError(
            f"images {images.shape} and references {references.shape} must have the same shape"
        )


def psnr(images: Any, references: Any) -> np.ndarray:
    """Peak signal-to-noise ratio of each image against its reference, in dB.

    ``10 log10(1 / MSE)`` on intensities scaled to [0, 1] (``tf.image.psnr`` with
    ``max_val=1``), i.e. the usual 8-bit PSNR ``10 log10(255^2 / MSE_uint8)``. Identical images
    give ``inf``.

    Args:
        images, references: ``[batch, H, W, C]`` (or one ``[H, W, C]`` image), both uint8 in
            [0, 255] or both float in [-1, 1].

    Returns:
        float32 ``[batch]`` (a scalar array for a single image).
    """
    images, references = _to_unit_float(images), _to_unit_float(references)
    _check_same_shape(images, references)
    return tf.image.psnr(images, references, max_val=1.0).numpy()


def ssim(images: Any, references: Any) -> np.ndarray:
    """Structural similarity (Wang et al. 2004) of each image against its reference.

    ``tf.image.ssim`` with its defaults (11x11 Gaussian window, sigma 1.5, k1 0.01, k2 0.03) on
    intensities scaled to [0, 1], averaged over pixels and channels; 1 means identical.
    H and W must be at least 11.

    Args:
        images, references: ``[batch, H, W, C]`` (or ``[H, W, C]``), both uint8 in [0, 255] or
            both float in [-1, 1].

    Returns:
        float32 ``[batch]`` in [-1, 1].
    """
    images, references = _to_unit_float(images), _to_unit_float(references)
    _check_same_shape(images, references)
    if images.shape[-3] < 11 or images.shape[-2] < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {images.shape}")
    return tf.image.ssim(images, references, max_val=1.0).numpy()


def _colour_samples(images: Any, max_pixels: int, rng: np.random.Generator) -> np.ndarray:
    pixels = _to_unit_float(images).numpy()
    pixels = pixels.reshape(-1, pixels.shape[-1])
    if len(pixels) > max_pixels:
        pixels = pixels[rng.choice(len(pixels), max_pixels, replace=False)]
    return pixels


def colour_sliced_wasserstein(
    images: Any,
    references: Any,
    *,
    num_projections: int = 128,
    max_pixels: int = 200_000,
    seed: int = 0,
) -> float:
    """Sliced 1-Wasserstein distance between the colour distributions of two image sets.

    Every pixel of a set is a point in the RGB cube ``[0, 1]^3`` (the sets may differ in size
    and image size). For ``num_projections`` random unit directions ``u`` (fixed by `seed`), the
    two sets' projections ``<u, pixel>`` are compared by the 1-D Wasserstein-1 distance (mean
    absolute difference of their 256-point quantile functions); the result is the mean over
    directions. 0 means identical colour histograms; it ignores where the colours are.

    Args:
        images, references: ``[N, H, W, C]`` and ``[M, H', W', C]``, both uint8 in [0, 255] or
            both float in [-1, 1].
        num_projections: random directions.
        max_pixels: at most this many pixels of each set are used (sampled with `seed`).
        seed: seed of the directions and of the pixel sampling.

    Returns:
        The distance, in units of the [0, 1] intensity scale.
    """
    rng = np.random.default_rng(seed)
    a = _colour_samples(images, max_pixels, rng)
    b = _colour_samples(references, max_pixels, rng)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"images have {a.shape[1]} channels but references {b.shape[1]}")
    directions = rng.normal(size=(a.shape[1], num_projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    quantiles = np.linspace(0.0, 1.0, 256)
    qa = np.quantile(a @ directions, quantiles, axis=0)
    qb = np.quantile(b @ directions, quantiles, axis=0)
    return float(np.mean(np.abs(qa - qb)))


def relative_colour_sliced_wasserstein(
    translated: Any, sources: Any, references: Any, **kwargs: Any
) -> float:
    """Colour distance of a translation to the target domain, relative to doing nothing.

    ``SW(translated, references) / SW(sources, references)`` with
    :func:`colour_sliced_wasserstein` (same directions and sampling): 1 for the identity
    mapping (``translated = sources``), 0 when the translated colours are distributed exactly
    like the target domain's, above 1 when the translation moved away from it.

    Args:
        translated: ``G(sources)``, ``[N, H, W, C]``.
        sources: the inputs, ``[N, H, W, C]`` (domain A).
        references: real target-domain images, ``[M, H', W', C]`` (domain B; unpaired).
        **kwargs: ``num_projections``, ``max_pixels``, ``seed``.

    Returns:
        The ratio (>= 0).
    """
    floor = colour_sliced_wasserstein(sources, references, **kwargs)
    if floor == 0.0:
        raise ValueError("sources and references have identical colour distributions")
    return colour_sliced_wasserstein(translated, references, **kwargs) / floor


def edge_correlation(images: Any, references: Any) -> np.ndarray:
    """Content preservation: correlation of the edge maps of each image and its reference.

    Per image, the Pearson correlation over pixels of the Sobel gradient magnitudes of the two
    images' luma (ITU-R BT.601, ``tf.image.rgb_to_grayscale``). The gradient *magnitude* ignores
    the sign of a contrast, so an edge-preserving translation (even a negative) scores 1 against
    its input and unrelated images score about 0. An image without any edge whose reference
    has some (e.g. an untrained generator's flat grey output) preserved none of them and
    scores 0; a reference without any edge gives NaN (there was nothing to preserve).

    Args:
        images, references: ``[batch, H, W, C]`` (C = 1 or 3), both uint8 in [0, 255] or both
            float in [-1, 1]; for CycleGAN, ``G(a)`` and ``a``.

    Returns:
        float32 ``[batch]`` in [-1, 1] (0 for a flat image, NaN for a flat reference).
    """
    images, references = _to_unit_float(images), _to_unit_float(references)
    _check_same_shape(images, references)
    if images.shape.rank == 3:
        images, references = images[None], references[None]

    def magnitude(x):
        if x.shape[-1] == 3:
            x = tf.image.rgb_to_grayscale(x)
        edges = tf.image.sobel_edges(x)  # [batch, H, W, 1, 2] (dy, dx)
        # Drop the 1-pixel border: sobel_edges pads by reflection, which would correlate too.
        return tf.norm(edges, axis=-1)[:, 1:-1, 1:-1, 0]

    x = tf.reshape(magnitude(images), [tf.shape(images)[0], -1])
    y = tf.reshape(magnitude(references), [tf.shape(references)[0], -1])
    x = x - tf.reduce_mean(x, axis=1, keepdims=True)
    y = y - tf.reduce_mean(y, axis=1, keepdims=True)
    image_energy, reference_energy = tf.reduce_sum(x * x, axis=1), tf.reduce_sum(y * y, axis=1)
    correlation = tf.reduce_sum(x * y, axis=1) / tf.sqrt(image_energy * reference_energy)
    # 0/0 is NaN: keep it for a flat reference, score a flat image against edges as 0
    flat_image = tf.logical_and(image_energy == 0, reference_energy > 0)
    return tf.where(flat_image, tf.zeros_like(correlation), correlation).numpy()


def unpaired_translation_measures(translated: Any, sources: Any, references: Any,
                                  truths: Any = None) -> dict[str, float]:
    """The three measures an unpaired translation (CycleGAN A -> B) is judged on.

    Args:
        translated: ``G(sources)``, uint8 ``[N, H, W, 3]``.
        sources: the inputs (domain A), uint8 ``[N, H, W, 3]``.
        references: real, unrelated target-domain images (domain B), uint8 ``[M, H, W, 3]``.
        truths: the true translations of ``sources`` when known (the built-in style set),
            uint8 ``[N, H, W, 3]``; None leaves out the figures that need them.

    Returns:
        ``colour_sw_relative`` (:func:`relative_colour_sliced_wasserstein`: 1 = identity, 0 =
        B's colours), ``edge_correlation`` (:func:`edge_correlation` with the input, mean over
        inputs with edges), and with ``truths``: ``psnr_db``, ``ssim``, ``identity_psnr_db``,
        ``identity_ssim`` (of the input itself) and ``psnr_gain_db``.
    """
    figures = {
        "colour_sw_relative": relative_colour_sliced_wasserstein(translated, sources,
                                                                 references),
        # nanmean: an input scene without any edge gives NaN (see edge_correlation)
        "edge_correlation": float(np.nanmean(edge_correlation(translated, sources))),
    }
    if truths is not None:
        figures.update({
            "psnr_db": float(psnr(translated, truths).mean()),
            "ssim": float(ssim(translated, truths).mean()),
            "identity_psnr_db": float(psnr(sources, truths).mean()),
            "identity_ssim": float(ssim(sources, truths).mean()),
        })
        figures["psnr_gain_db"] = figures["psnr_db"] - figures["identity_psnr_db"]
    return {k: round(v, 4) for k, v in figures.items()}
