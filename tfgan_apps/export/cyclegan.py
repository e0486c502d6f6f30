"""CycleGAN serving signatures: both directions, images of any size in, same size out.

- ``a2b`` (also ``serving_default``) and ``b2a``: ``{"images": uint8[batch, H, W, 3]}`` ->
  ``{"images": uint8[batch, H, W, 3]}`` for any ``H, W >= 4``: the batch is reflection padded to
  a multiple of 4, translated by the fully convolutional ResNet generator and cropped back
  (:func:`tfgan_apps.inference.translate_any_size`); a fixed-size generator (the U-Net option)
  gets the batch resized to its S x S and the result resized back instead.
- ``a2b_image_bytes`` / ``b2a_image_bytes``: ``{"image_bytes": string[batch]}`` (PNG, JPEG, BMP
  or GIF files) -> ``{"png_bytes": string[batch]}``, each PNG at its own input's size, so images
  of different sizes can share a request.

Bad input (bytes that are not an image, a side under 4 pixels, not 3 channels) fails with an
``InvalidArgument`` error that says so. So does a file whose header declares more than the
export's ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`), before it is decoded: the
generator's memory grows with the pixels, and running out of it would end the server. Larger
images are for ``tfgan-apps translate --tile``, locally. Everything is traced without XLA (TF
Serving disables it). Names ending in ``_bytes`` are the ones TF Serving's REST API
base64-wraps.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.export.image_io import check_max_pixels, map_image_files, record_max_pixels
from tfgan_apps.inference import MIN_INPUT_SIZE, fixed_input_size, translate_any_size

DIRECTIONS = ("a2b", "b2a")

#: The default pixel limit of the ``*_image_bytes`` signatures (a 3000 x 2000 photo), for a
#: budget of 4 GiB per request: on CPU one image through the paper's generator (64 filters, 9
#: residual blocks) adds about 616 bytes per pixel to the serving process's memory at peak,
#: 3.4 GiB at 6M pixels (measured with ``benchmarks/serving_memory.py``). Wider generators
#: need proportionally more: lower it with ``tfgan-apps export --max-pixels``.
DEFAULT_MAX_PIXELS = 6_000_000

_TOO_LARGE_HINT = "resize it, or use `tfgan-apps translate --tile` locally"


def translate_uint8(generator: keras.Model, images: tf.Tensor) -> tf.Tensor:
    """uint8 ``[batch, H, W, 3]`` -> uint8 ``[batch, H, W, 3]`` through ``generator``.

    Raises (at run time):
        tf.errors.InvalidArgumentError: not 3 channels, or a side smaller than 4 pixels.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_equal(shape[-1], 3, message="images must have 3 channels (RGB)"),
        tf.debugging.assert_greater_equal(
            tf.minimum(shape[1], shape[2]), MIN_INPUT_SIZE,
            message=f"images must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels"),
    ]
    with tf.control_dependencies(checks):
        signed = to_signed_unit(images)
    fixed = fixed_input_size(generator)
    if fixed is None:
        return from_signed_unit(translate_any_size(generator, signed))
    resized = tf.image.resize(signed, fixed, antialias=True)
    outputs = generator(tf.clip_by_value(resized, -1.0, 1.0), training=False)
    return from_signed_unit(tf.image.resize(outputs, shape[1:3], antialias=True))


def build_cyclegan_archive(model: keras.Model, max_pixels: int | None = None
                           ) -> keras.export.ExportArchive:
    """An ``ExportArchive`` of a :class:`~tfgan_apps.models.CycleGAN`'s two generators with the
    signatures of the module docstring (``serving_default`` = ``a2b``).

    Args:
        model: the CycleGAN.
        max_pixels: the most pixels (height x width) an image file of the ``*_image_bytes``
            signatures may have (default :data:`DEFAULT_MAX_PIXELS`); baked into them, and
            recorded as the export's :data:`~tfgan_apps.export.image_io.MAX_PIXELS_ATTRIBUTE`.

    Raises:
        UserError: ``max_pixels`` is not a positive integer.
    """
    max_pixels = check_max_pixels(DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    images_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
    bytes_spec = tf.TensorSpec([None], tf.string, name="image_bytes")
    archive = keras.export.ExportArchive()
    generators = {"a2b": model.g_ab, "b2a": model.g_ba}
    for generator in generators.values():
        archive.track(generator)

    def endpoints(generator: keras.Model):
        @tf.function(input_signature=[images_spec], jit_compile=False)
        def translate_images(images: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"images": translate_uint8(generator, images)}

        @tf.function(input_signature=[bytes_spec], jit_compile=False)
        def translate_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"png_bytes": map_image_files(
                image_bytes, lambda images: translate_uint8(generator, images), max_pixels,
                _TOO_LARGE_HINT)}

        return translate_images, translate_image_bytes

    for direction, generator in generators.items():
        translate_images, translate_image_bytes = endpoints(generator)
        archive.add_endpoint(direction, translate_images)
        archive.add_endpoint(f"{direction}_image_bytes", translate_image_bytes)
        if direction == "a2b":
            archive.add_endpoint("serving_default", translate_images)
    record_max_pixels(archive, max_pixels)
    return archive
