"""Image conversions and input checks shared by the serving signatures of every application.

Everything here is plain TensorFlow graph code, traced into SavedModels without XLA. Checks
raise ``InvalidArgument`` with a message naming the problem, so a bad request fails that
request only and never crashes the server.

Encoded images are checked by their *header* before anything is decoded: an image file of a
few kilobytes can claim 20000 x 20000 pixels, and decoding it (1.2 GB) or running a generator
on it (far more) would exhaust the server's memory, which ends a TF Serving process
(``std::bad_alloc``) instead of failing one request. The pixel limit is a Python int given at
export time and baked into the traced graph as a constant; nothing is read at serving time.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from tfgan_apps.errors import UserError

#: The formats the ``*_bytes`` signatures accept, as their error messages name them: those of
#: ``tf.io.decode_image`` whose header :func:`image_header_size` reads (WebP, which it also
#: decodes, is refused).
ACCEPTED_FORMATS = "PNG, JPEG, GIF or BMP"

# Magic bytes, as tf.io.decode_image tells the formats apart.
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_GIF_MAGIC = b"GIF8"
_BMP_MAGIC = b"BM"

#: The attribute of an exported SavedModel that records the pixel limit of its ``*_bytes``
#: signatures: ``tf.saved_model.load(path).max_image_pixels[0]`` is an int64 scalar variable.
#: A variable collection, not a signature, so TF Serving neither lists nor serves it (it only
#: restores it with the weights); the signatures never read it, their limit is a constant.
MAX_PIXELS_ATTRIBUTE = "max_image_pixels"


def record_max_pixels(archive: keras.export.ExportArchive, max_pixels: int) -> None:
    """Store ``max_pixels`` in ``archive`` as :data:`MAX_PIXELS_ATTRIBUTE`, for whoever inspects
    the export (the signatures themselves capture it at tracing)."""
    archive.add_variable_collection(MAX_PIXELS_ATTRIBUTE, [tf.Variable(
        check_max_pixels(max_pixels), dtype=tf.int64, trainable=False, name=MAX_PIXELS_ATTRIBUTE)])


def check_max_pixels(max_pixels: int) -> int:
    """``max_pixels`` itself if it is a positive Python ``int`` (not a bool, not a tensor).

    Raises:
        UserError: anything else (option ``max_pixels``, e.g. ``max_pixels must be a positive
            integer, got 0``).
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise UserError(f"must be a positive integer, got {max_pixels!r}", option="max_pixels")
    return max_pixels


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


def _unsigned_int(image_bytes: tf.Tensor, start: int, length: int,
                  little_endian: bool) -> tf.Tensor:
    """int64 scalar: the unsigned integer in bytes ``[start, start + length)`` of a scalar string
    at least ``start + length`` bytes long."""
    digits = tf.cast(tf.io.decode_raw(tf.strings.substr(image_bytes, start, length), tf.uint8),
                     tf.int64)
    weights = [256 ** i for i in range(length)]
    if not little_endian:
        weights.reverse()
    return tf.reduce_sum(digits * tf.constant(weights, tf.int64))


def _require_length(image_bytes: tf.Tensor, length: int, name: str) -> tf.Operation:
    """An assertion that the file holds at least ``length`` bytes: ``substr`` past the end would
    fail with a message about string positions, not about the image."""
    return tf.debugging.Assert(
        tf.strings.length(image_bytes) >= length,
        [tf.strings.format(f"the {name} file is truncated: its header needs {length} bytes, "
                           "got {}", [tf.strings.length(image_bytes)])])


def _png_size(image_bytes: tf.Tensor) -> tf.Tensor:
    # The signature (8 bytes), then the IHDR chunk, which must come first: length (4), type
    # (4), then width and height as big-endian uint32.
    with tf.control_dependencies([_require_length(image_bytes, 24, "PNG")]):
        is_ihdr = tf.debugging.Assert(
            tf.equal(tf.strings.substr(image_bytes, 12, 4), b"IHDR"),
            ["the PNG file does not start with an IHDR chunk (a corrupt PNG header)"])
    with tf.control_dependencies([is_ihdr]):
        width = _unsigned_int(image_bytes, 16, 4, little_endian=False)
        height = _unsigned_int(image_bytes, 20, 4, little_endian=False)
    return tf.stack([height, width])


def _jpeg_size(image_bytes: tf.Tensor) -> tf.Tensor:
    # libjpeg's jpeg_read_header: the markers up to the first scan, never the image data; a
    # corrupt or truncated header fails with InvalidArgument.
    return tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64)


def _gif_size(image_bytes: tf.Tensor) -> tf.Tensor:
    # "GIF87a"/"GIF89a", then the logical screen's width and height as little-endian uint16.
    with tf.control_dependencies([_require_length(image_bytes, 10, "GIF")]):
        width = _unsigned_int(image_bytes, 6, 2, little_endian=True)
        height = _unsigned_int(image_bytes, 8, 2, little_endian=True)
    return tf.stack([height, width])


def _bmp_size(image_bytes: tf.Tensor) -> tf.Tensor:
    # BITMAPINFOHEADER: width and height as little-endian int32; a negative height means rows
    # stored top-down, not a negative size.
    with tf.control_dependencies([_require_length(image_bytes, 26, "BMP")]):
        sides = tf.cast(tf.io.decode_raw(tf.strings.substr(image_bytes, 18, 8), tf.int32,
                                         little_endian=True), tf.int64)
    return tf.stack([tf.abs(sides[1]), sides[0]])


def _unknown_size(image_bytes: tf.Tensor) -> tf.Tensor:
    refuse = tf.debugging.Assert(
        False, [f"Unknown image file format: image_bytes must hold a {ACCEPTED_FORMATS} file"])
    with tf.control_dependencies([refuse]):
        return tf.zeros([2], tf.int64)


def image_header_size(image_bytes: tf.Tensor) -> tf.Tensor:
    """The size an encoded image's header declares, read without decoding it.

    Args:
        image_bytes: scalar string, a PNG, JPEG, GIF or BMP file (told apart by their magic
            bytes, as ``tf.io.decode_image`` does).

    Returns:
        int64 ``[2]``: height, width (a GIF's logical screen; a BMP's height as a positive
        number).

    Raises (at run time):
        tf.errors.InvalidArgumentError: another format, or a truncated or corrupt header.
    """
    head = tf.strings.substr(image_bytes, 0, 8)  # shorter for shorter files, never an error
    found = [tf.equal(tf.strings.substr(head, 0, len(magic)), magic)
             for magic in (_PNG_MAGIC, _JPEG_MAGIC, _GIF_MAGIC, _BMP_MAGIC)]
    # The index of the first format that matches; the last branch (always true) refuses.
    index = tf.argmax(tf.cast(tf.stack([*found, tf.constant(True)]), tf.int32),
                      output_type=tf.int32)
    branches = [_png_size, _jpeg_size, _gif_size, _bmp_size, _unknown_size]
    return tf.switch_case(index, [lambda f=f: f(image_bytes) for f in branches])


def decode_image_bytes(image_bytes: tf.Tensor, max_pixels: int,
                       too_large_hint: str = "resize it") -> tf.Tensor:
    """One encoded image (scalar string: PNG, JPEG, GIF or BMP) -> uint8 ``[H, W, 3]``.

    The size in the file's header is checked before the decoder runs (control dependencies),
    so an oversized image costs no memory; the decoded image is checked again.

    Args:
        image_bytes: scalar string, the file's bytes.
        max_pixels: the most pixels (height x width) accepted; a Python int, captured as a
            constant when the signature is traced.
        too_large_hint: what the error for an oversized image tells the client to do (no
            quotes: the error shows them backslash-escaped).

    Raises (at run time):
        tf.errors.InvalidArgumentError: empty bytes, another format, a truncated or corrupt
            header, a zero width or height, more than ``max_pixels`` pixels, or bytes the
            decoder rejects.
    """
    max_pixels = check_max_pixels(max_pixels)
    not_empty = tf.debugging.assert_greater(
        tf.strings.length(image_bytes), 0, message="image_bytes is empty: expected the bytes "
        f"of a {ACCEPTED_FORMATS} file")
    with tf.control_dependencies([not_empty]):
        height, width = tf.unstack(image_header_size(image_bytes))
    size = [width, height]  # width x height in messages, as image viewers show it
    positive = tf.debugging.Assert(
        tf.minimum(height, width) >= 1,
        [tf.strings.format("the image header gives a size of {}x{} pixels: width and height "
                           "must be at least 1", size)])
    with tf.control_dependencies([positive]):
        # width <= max_pixels // height is width * height <= max_pixels without the int64
        # overflow of two uint32 sides.
        within = tf.debugging.Assert(
            width <= tf.constant(max_pixels, tf.int64) // tf.maximum(height, 1),
            [tf.strings.format(
                "the image is {}x{} pixels, which exceeds the limit of this model "
                f"({max_pixels} pixels); {too_large_hint}", size)])
    with tf.control_dependencies([within]):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    shape = tf.shape(image)
    checks = [
        tf.debugging.assert_positive(tf.minimum(shape[0], shape[1]),
                                     message="the image has a zero width or height"),
        tf.debugging.assert_less_equal(
            tf.cast(shape[0], tf.int64) * tf.cast(shape[1], tf.int64),
            tf.constant(max_pixels, tf.int64),
            message=f"the decoded image exceeds the limit of this model ({max_pixels} "
            "pixels)"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(image)


def map_image_files(
    image_bytes: tf.Tensor, transform: Callable[[tf.Tensor], tf.Tensor], max_pixels: int,
    too_large_hint: str = "resize it",
) -> tf.Tensor:
    """``string[batch]`` image files -> ``string[batch]`` PNG files, one image at a time.

    Each file is decoded (:func:`decode_image_bytes`, refusing more than ``max_pixels``),
    passed to `transform` as uint8 ``[1, H, W, 3]``, and its result, uint8 ``[1, H', W', C]``
    with C in {1, 3}, is PNG-encoded. One image at a time, so the files of one request may
    differ in size, and a request's peak memory is that of its largest image.
    """
    max_pixels = check_max_pixels(max_pixels)

    def one(encoded: tf.Tensor) -> tf.Tensor:
        image = decode_image_bytes(encoded, max_pixels, too_large_hint)
        return tf.io.encode_png(transform(image[None])[0])

    # parallel_iterations=1: in a graph map_fn would otherwise run up to 10 images at once,
    # and the memory budget behind max_pixels is for one.
    return tf.map_fn(one, image_bytes, fn_output_signature=tf.string, parallel_iterations=1)
