"""Image conversions and input checks shared by the serving signatures of every application.

Everything here is plain TensorFlow graph code, traced into SavedModels without XLA. Checks
raise ``InvalidArgument`` with a message naming the problem, so a bad request fails that
request only and never crashes the server.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

#: Decoded images larger than this many pixels are refused (decompression-bomb guard).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024

def encode_png_batch(images: tf.Tensor) -> tf.Tensor:
    """``uint8[batch, H, W, C]`` -> ``string[batch]`` of PNG files."""
    return tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.string)


def check_image_batch(images: tf.Tensor) -> list[tf.Operation]:
    """Assertions that ``images`` is ``[batch, H, W, 3]`` with H, W >= 1 (use as control
    dependencies)."""
    shape = tf.shape(images)
    return [
        tf.debugging.assert_equal(shape[-1], 3, message="images must have 3 channels (RGB)"),
        tf.debugging.assert_positive(
            tf.minimum(shape[1], shape[2]),
            message="images must have a height and width of at least 1 pixel"),
    ]


def decode_image_bytes(image_bytes: tf.Tensor) -> tf.Tensor:
    """One encoded image (scalar string: PNG, JPEG, BMP or GIF) -> uint8 ``[H, W, 3]``.

    Empty bytes, bytes that are not an image, a zero-size image or one of more than
    :data:`MAX_IMAGE_PIXELS` pixels fail with ``InvalidArgument``.
    """
    checks = [tf.debugging.assert_greater(
        tf.strings.length(image_bytes), 0, message="image_bytes is empty: expected the bytes "
        "of a PNG, JPEG, BMP or GIF file")]
    with tf.control_dependencies(checks):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    shape = tf.shape(image)
    checks = [
        tf.debugging.assert_positive(tf.minimum(shape[0], shape[1]),
                                     message="the image has a zero width or height"),
        tf.debugging.assert_less_equal(
            tf.cast(shape[0], tf.int64) * tf.cast(shape[1], tf.int64),
            tf.constant(MAX_IMAGE_PIXELS, tf.int64),
            message=f"the image has more than {MAX_IMAGE_PIXELS} pixels"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(image)


def map_image_files(
    image_bytes: tf.Tensor, transform: Callable[[tf.Tensor], tf.Tensor]
) -> tf.Tensor:
    """``string[batch]`` image files -> ``string[batch]`` PNG files, one image at a time.

    Each file is decoded (:func:`decode_image_bytes`), passed to `transform` as uint8
    ``[1, H, W, 3]``, and its result, uint8 ``[1, H', W', C]`` with C in {1, 3}, is PNG-encoded.
    One image at a time, so the files of one request may differ in size.
    """
    def one(encoded: tf.Tensor) -> tf.Tensor:
        return tf.io.encode_png(transform(decode_image_bytes(encoded)[None])[0])

    return tf.map_fn(one, image_bytes, fn_output_signature=tf.string)
