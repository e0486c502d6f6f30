"""Translating images of any size with a fully convolutional generator (CycleGAN, pix2pix).

A ResNet generator downsamples twice by 2, so it needs heights and widths that are multiples of
4. :func:`translate_any_size` pads the input by reflection up to the next multiple of 4 (at
least 8), translates, and crops back to the input's size. Photos too large to translate in one
piece go through :func:`translate_tiled`: overlapping square tiles, translated separately and
blended with linear ramp weights across the overlaps so no seam is visible.

All functions take and return float images ``[batch, H, W, C]`` in [-1, 1] (the generators'
range); convert uint8 with :func:`tfgan_apps.data.convert.to_signed_unit` /
:func:`~tfgan_apps.data.convert.from_signed_unit`.

Instance normalization makes a tile's output depend on that tile's statistics, so a tiled
translation matches an untiled one closely but not exactly (more closely with larger tiles and
overlaps, and for images of homogeneous content).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfgan_apps.errors import UserError

#: heights and widths a two-times-downsampling generator accepts are multiples of this
SIZE_MULTIPLE = 4
#: smallest side handed to a generator (its 3x3 reflection padding at 1/4 scale needs 2 px)
MIN_GENERATOR_SIZE = 8
#: smallest input side that can be reflection padded up to MIN_GENERATOR_SIZE
MIN_INPUT_SIZE = 4

Generator = Callable[..., Any]


def _padded_size(size: tf.Tensor) -> tf.Tensor:
    rounded = (size + SIZE_MULTIPLE - 1) // SIZE_MULTIPLE * SIZE_MULTIPLE
    return tf.maximum(rounded, MIN_GENERATOR_SIZE)


def fixed_input_size(generator: Generator) -> tuple[int, int] | None:
    """``(H, W)`` when `generator` is a Keras model with a fixed input size, else None."""
    shape = getattr(generator, "input_shape", None)
    if not shape or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]), int(shape[2])


def translate_any_size(generator: Generator, images: Any) -> tf.Tensor:
    """Translate a batch of any ``H, W >= 4`` with a fully convolutional generator.

    The batch is reflection padded (split evenly between the two sides of each axis) to the
    next multiple of 4, at least 8, translated, and cropped back. Pure TensorFlow with dynamic
    shapes, so it also runs inside a ``tf.function`` (the export signatures use it).

    Args:
        generator: callable ``float32[batch, H', W', C] -> float32[batch, H', W', C]`` (e.g. a
            ResNet generator built with ``fixed_size=False``).
        images: float ``[batch, H, W, C]`` in [-1, 1].

    Returns:
        float32 ``[batch, H, W, C]`` in [-1, 1].

    Raises:
        tf.errors.InvalidArgumentError: a side is smaller than 4 pixels.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    checks = [tf.debugging.assert_greater_equal(
        tf.minimum(height, width), MIN_INPUT_SIZE,
        message=f"images must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels to translate")]
    with tf.control_dependencies(checks):
        extra_h = _padded_size(height) - height
        extra_w = _padded_size(width) - width
    top, left = extra_h // 2, extra_w // 2
    paddings = tf.stack([[0, 0], [top, extra_h - top], [left, extra_w - left], [0, 0]])
    padded = tf.pad(images, paddings, mode="REFLECT")
    translated = generator(padded, training=False)
    return translated[:, top:top + height, left:left + width, :]


def _axis_tiles(length: int, tile: int, overlap: int) -> list[tuple[int, np.ndarray]]:
    """Tile starts along one axis and their blending weights ``[tile]``.

    Tiles start every ``tile - overlap`` pixels, the last one flush with the end. Across an
    overlap shared with a neighbour a weight is 0 on the outer quarter (where the tile's own
    border padding corrupts its output), ramps linearly to 1 over the middle half and is 1
    elsewhere (including at the image's own borders, which the whole image has too).
    """
    if length <= tile:
        return [(0, np.ones(length, np.float32))]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride)) + [length - tile]
    position = np.arange(overlap, dtype=np.float32) + 0.5
    ramp = np.clip((position - overlap / 4) / (overlap / 2), 0.0, 1.0)
    tiles = []
    for start in starts:
        weights = np.ones(tile, np.float32)
        if start > 0:
            weights[:overlap] = ramp
        if start + tile < length:
            weights[tile - overlap:] = np.minimum(weights[tile - overlap:], ramp[::-1])
        tiles.append((start, weights))
    return tiles


def translate_tiled(
    generator: Generator,
    images: Any,
    tile: int,
    overlap: int | None = None,
    tiles_per_batch: int = 4,
) -> np.ndarray:
    """Translate large images tile by tile and blend the seams.

    Each image is covered by ``tile x tile`` tiles overlapping by `overlap` pixels (the last
    tile of a row/column is flush with the border, overlapping more); every tile goes through
    :func:`translate_any_size`, and overlapping outputs are averaged with weights that ignore
    the outer quarter of each overlap and ramp linearly across its middle half, so the result
    is continuous across tile borders. Images no
    larger than `tile` are translated whole.

    Args:
        generator: fully convolutional generator (or one with a fixed input of ``tile`` px).
        images: float ``[batch, H, W, C]`` in [-1, 1], any ``H, W >= 4``.
        tile: tile side in pixels, a multiple of 4, at least 8.
        overlap: overlap of neighbouring tiles, ``1 <= overlap < tile``; default ``tile // 4``.
        tiles_per_batch: tiles translated per generator call (memory vs speed).

    Returns:
        float32 numpy ``[batch, H, W, C]`` in [-1, 1].

    Raises:
        UserError: bad `tile` or `overlap`, or `images` not of rank 4.
    """
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_GENERATOR_SIZE or (
            tile % SIZE_MULTIPLE):
        raise UserError(f"tile must be a multiple of {SIZE_MULTIPLE}, at least "
                         f"{MIN_GENERATOR_SIZE}, got {tile!r}")
    overlap = tile // 4 if overlap is None else overlap
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 < overlap < tile:
        raise UserError(f"overlap must be an integer in [1, tile={tile}), got {overlap!r}")
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise UserError(f"images must be [batch, H, W, C], got shape {images.shape}")
    _, height, width, _ = images.shape
    rows, cols = _axis_tiles(height, tile, overlap), _axis_tiles(width, tile, overlap)
    windows = [(top, left, np.outer(wy, wx)[..., None])
               for top, wy in rows for left, wx in cols]
    outputs = np.zeros(images.shape, np.float32)
    for index, image in enumerate(images):
        total = np.zeros(image.shape, np.float32)
        weight = np.zeros(image.shape[:2] + (1,), np.float32)
        for first in range(0, len(windows), tiles_per_batch):
            group = windows[first:first + tiles_per_batch]
            crops = np.stack([image[t:t + w.shape[0], s:s + w.shape[1]] for t, s, w in group])
            translated = translate_any_size(generator, crops).numpy()
            for (t, s, w), out in zip(group, translated, strict=True):
                total[t:t + w.shape[0], s:s + w.shape[1]] += w * out
                weight[t:t + w.shape[0], s:s + w.shape[1]] += w
        outputs[index] = total / weight
    return outputs


def translate(
    generator: Generator,
    images: Any,
    *,
    tile: int | None = None,
    overlap: int | None = None,
) -> np.ndarray:
    """Translate images of any size: whole (:func:`translate_any_size`) or, when `tile` is
    given and an image is larger, tiled (:func:`translate_tiled`). A generator with a fixed
    input size (e.g. the U-Net) is always tiled at that size.

    Args:
        generator: the generator (e.g. ``cyclegan.g_ab``).
        images: float ``[batch, H, W, C]`` in [-1, 1].
        tile: tile side (multiple of 4) for large images; None translates whole.
        overlap: tile overlap (default ``tile // 4``).

    Returns:
        float32 numpy ``[batch, H, W, C]`` in [-1, 1].

    Raises:
        UserError: a `tile` that the generator cannot take, images smaller than a fixed-size
            generator's input, or as :func:`translate_tiled`.
    """
    fixed = fixed_input_size(generator)
    if fixed is not None:
        if fixed[0] != fixed[1]:
            raise UserError(f"generator input {fixed} is not square; cannot tile with it")
        if tile is not None and tile != fixed[0]:
            raise UserError(f"this generator only takes {fixed[0]}x{fixed[0]} inputs; "
                             f"use tile={fixed[0]} (got tile={tile})")
        tile = fixed[0]
        images = np.asarray(images, np.float32)
        if min(images.shape[1:3]) < tile:
            raise UserError(f"this generator only takes {tile}x{tile} inputs and the images "
                             f"are {images.shape[1]}x{images.shape[2]}; resize them up first")
        return translate_tiled(generator, images, tile, overlap)
    if tile is None:
        return translate_any_size(generator, images).numpy()
    return translate_tiled(generator, images, tile, overlap)
