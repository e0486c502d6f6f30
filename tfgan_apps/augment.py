"""Differentiable augmentation of a discriminator's inputs (DiffAugment, Zhao et al. 2020).

With little data the discriminator memorises the training images and its feedback to the
generator collapses. DiffAugment applies the same *kind* of random transformation to real and
generated images before D, in both D's and G's updates; every transformation is differentiable
in the image, so G is trained through it. https://arxiv.org/abs/2006.10738

Each transformation draws its parameters per image from a stateless seed, so a train step's
augmentation is a pure function of ``(seed, step)``: reproducible and resumable. Under a
distribution strategy the draws are made for the global batch and each replica takes its
slice (``batch_offset``, ``global_batch``), so N replicas augment exactly as one device does;
the same holds with and without XLA (fixed generator, integer draws).
Pure TensorFlow ops, no Python control flow on tensors: works under XLA and ``tf.distribute``.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tfgan_apps.errors import UserError

#: transformations in the paper's order: colour jitter, translation by up to 1/8 of the side
#: (zero padded), cutout of a random square of half the side
TRANSFORMS = ("color", "translation", "cutout")
#: the policies offered as options: ``none`` and the paper's cumulative choices
POLICIES = ("none", "translation", "color,translation", "color,translation,cutout")

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
# Named explicitly: "auto_select" lets XLA pick another generator than TensorFlow's kernels,
# so the same seed would augment differently with and without --xla.
_ALGORITHM = "philox"
_FLOAT_STEPS = 1 << 24


def parse_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``"none"`` or ``""`` -> ``()``.

    Raises:
        UserError: an unknown transformation, naming the known ones.
    """
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(n.strip() for n in names if n.strip() and n.strip() != "none")
    unknown = sorted(set(names) - set(TRANSFORMS))
    if unknown:
        raise UserError(f"unknown DiffAugment transformation(s) {unknown}; choose from "
                        f"{list(TRANSFORMS)} (comma-separated) or 'none'")
    return names


def differentiable_augment(
    images: tf.Tensor,
    seed: tf.Tensor,
    policy: str | Sequence[str] = "color,translation,cutout",
    batch_offset: tf.Tensor | int = 0,
    global_batch: tf.Tensor | int | None = None,
) -> tf.Tensor:
    """Randomly transform each image of a batch, differentiably.

    Args:
        images: ``float[batch, H, W, C]`` in ``[-1, 1]`` (NHWC, C = 1 or 3).
        seed: int32/int64 ``[2]`` stateless seed of this call (e.g. ``model.step_seed``).
        policy: comma-separated subset of :data:`TRANSFORMS`, or ``"none"``.
        batch_offset: index of this batch's first image in the global batch (a replica's
            ``replica_id * local_batch``).
        global_batch: size of the global batch (default: this batch's).

    Returns:
        Tensor of the same shape and dtype (values may leave ``[-1, 1]`` after colour jitter,
        as in the reference implementation).
    """
    names = parse_policy(policy)
    if not names:
        return images
    seeds = _split(tf.cast(seed, tf.int64), len(TRANSFORMS))
    draws = _Draws(tf.shape(images)[0], batch_offset, global_batch)
    for index, name in enumerate(TRANSFORMS):
        if name in names:
            images = _TRANSFORM_FUNCTIONS[name](images, seeds[index], draws)
    return images


class _Draws:
    """Per-image integer draws for one batch, cut from the global batch's."""

    def __init__(self, batch: tf.Tensor, offset: tf.Tensor | int,
                 global_batch: tf.Tensor | int | None) -> None:
        self.batch = batch
        self.offset = tf.cast(offset, tf.int32)
        self.total = batch if global_batch is None else tf.cast(global_batch, tf.int32)

    def integers(self, seed: tf.Tensor, low: int, high: int) -> tf.Tensor:
        """int32 ``[batch]`` uniform in ``[low, high)``."""
        values = tf.random.stateless_uniform(tf.reshape(self.total, [1]), seed, low, high,
                                             dtype=tf.int32, alg=_ALGORITHM)
        return values[self.offset:self.offset + self.batch]

    def uniform(self, seed: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
        """``[batch, 1, 1, 1]`` uniform in [0, 1).

        Drawn as integers and scaled: XLA and TensorFlow's kernels turn random bits into
        floats differently (float draws differ with and without XLA; integer draws agree).
        """
        bits = self.integers(seed, 0, _FLOAT_STEPS)
        return tf.reshape(tf.cast(bits, dtype) / _FLOAT_STEPS, [-1, 1, 1, 1])


def _split(seed: tf.Tensor, count: int) -> tf.Tensor:
    """``count`` new ``[2]`` seeds from ``seed`` (``stateless_split`` with a fixed generator:
    its default lets XLA pick another one)."""
    return tf.random.stateless_uniform([count, 2], seed, minval=None, maxval=None,
                                       dtype=tf.int64, alg=_ALGORITHM)


def random_color(images: tf.Tensor, seed: tf.Tensor, draws: _Draws | None = None) -> tf.Tensor:
    """Brightness (+U[-0.5, 0.5)), saturation (x U[0, 2)) and contrast (x U[0.5, 1.5)) per
    image, each around the image's own mean, as in the reference code."""
    draws = draws or _Draws(tf.shape(images)[0], 0, None)
    seeds = _split(seed, 3)
    x = images + (draws.uniform(seeds[0], images.dtype) - 0.5)
    if images.shape[-1] and images.shape[-1] > 1:
        mean = tf.reduce_mean(x, axis=3, keepdims=True)
        x = (x - mean) * (draws.uniform(seeds[1], images.dtype) * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (draws.uniform(seeds[2], images.dtype) + 0.5) + mean


def _shift_matrices(shift: tf.Tensor, size: int, dtype: tf.DType) -> tf.Tensor:
    """``[batch, size, size]`` matrices ``M`` with ``(M @ v)[i] = v[i - shift]`` (zero where
    ``i - shift`` falls outside): a translation as a product, differentiable and XLA-friendly."""
    rows = tf.range(size)[None, :, None]
    cols = tf.range(size)[None, None, :]
    return tf.cast(tf.equal(cols, rows - shift[:, None, None]), dtype)


def random_translation(images: tf.Tensor, seed: tf.Tensor, draws: _Draws | None = None,
                       ratio: float = TRANSLATION_RATIO) -> tf.Tensor:
    """Shift each image by integers in ``[-ratio*H, ratio*H] x [-ratio*W, ratio*W]``; pixels
    shifted in are 0 (mid-grey in [-1, 1])."""
    height, width = int(images.shape[1]), int(images.shape[2])
    draws = draws or _Draws(tf.shape(images)[0], 0, None)
    seeds = _split(seed, 2)
    max_y, max_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = draws.integers(seeds[0], -max_y, max_y + 1)
    shift_x = draws.integers(seeds[1], -max_x, max_x + 1)
    rows = _shift_matrices(shift_y, height, images.dtype)
    cols = _shift_matrices(shift_x, width, images.dtype)
    shifted = tf.einsum("bik,bkwc->biwc", rows, images)
    return tf.einsum("bjk,bhkc->bhjc", cols, shifted)


def random_cutout(images: tf.Tensor, seed: tf.Tensor, draws: _Draws | None = None,
                  ratio: float = CUTOUT_RATIO) -> tf.Tensor:
    """Zero one ``ratio*H x ratio*W`` square per image, centred anywhere in the image (it may
    be clipped by the border)."""
    height, width = int(images.shape[1]), int(images.shape[2])
    draws = draws or _Draws(tf.shape(images)[0], 0, None)
    seeds = _split(seed, 2)
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = draws.integers(seeds[0], 0, height)
    centre_x = draws.integers(seeds[1], 0, width)
    y = tf.range(height)[None, :, None]
    x = tf.range(width)[None, None, :]
    inside_y = tf.abs(y - centre_y[:, None, None]) * 2 < cut_h
    inside_x = tf.abs(x - centre_x[:, None, None]) * 2 < cut_w
    keep = tf.cast(tf.logical_not(tf.logical_and(inside_y, inside_x)), images.dtype)
    return images * keep[..., None]


_TRANSFORM_FUNCTIONS = {
    "color": random_color,
    "translation": random_translation,
    "cutout": random_cutout,
}
