"""The one conversion pair between uint8 pixels and the generators' float range [-1, 1].

``x = pixel / 127.5 - 1`` maps 0 -> -1 and 255 -> 1 (the range of a tanh output); the inverse
``pixel = round(clip((x + 1) * 127.5, 0, 255))`` rounds half to even, as both
``tf.round`` and ``np.round`` do, so the two libraries' versions agree exactly and uint8 ->
[-1, 1] -> uint8 is the identity. Data pipelines, export signatures, inference and pictures all
convert through here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

#: half of the uint8 range: pixel = (x + 1) * HALF_RANGE
HALF_RANGE = 127.5


def to_signed_unit(images: Any) -> tf.Tensor:
    """uint8 (or any real dtype) pixels in [0, 255] -> float32 in [-1, 1]; any shape.

    Args:
        images: e.g. uint8 ``[batch, H, W, C]``; a float input is taken as pixel values.

    Returns:
        float32 tensor of the same shape, ``images / 127.5 - 1``.
    """
    return tf.cast(images, tf.float32) / HALF_RANGE - 1.0


def from_signed_unit(x: Any) -> tf.Tensor:
    """Inverse of :func:`to_signed_unit`: float [-1, 1] -> uint8 [0, 255], clipped and rounded.

    Args:
        x: e.g. float32 ``[batch, H, W, C]`` generator outputs; values outside [-1, 1] clip.

    Returns:
        uint8 tensor of the same shape.
    """
    scaled = (tf.cast(x, tf.float32) + 1.0) * HALF_RANGE
    return tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)


def from_signed_unit_numpy(x: Any) -> np.ndarray:
    """:func:`from_signed_unit` for numpy arrays (no TensorFlow op): float [-1, 1] -> uint8.

    Args:
        x: array-like of any shape, e.g. ``[N, H, W, C]``.

    Returns:
        uint8 ``np.ndarray`` of the same shape, equal to ``from_signed_unit(x).numpy()``.
    """
    scaled = (np.asarray(x, np.float32) + 1.0) * HALF_RANGE
    return np.round(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
