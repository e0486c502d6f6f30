"""pix2pix serving signatures (images of any size in, results at the same size out).

Segmentation models:

- ``serving_default``: ``{"images": uint8[batch, H, W, 3]}`` -> ``{"mask": int32[batch, H, W],
  "probabilities": float32[batch, H, W, K]}`` for any H, W >= 1: the batch is resized
  (bilinear, antialiased) to the model's S x S, segmented, and the logits are resized back to
  H x W (bilinear) before the softmax and argmax, so the mask lines up with the input pixels.
- ``segment_image_bytes``: ``{"image_bytes": string[batch]}`` (PNG/JPEG/BMP/GIF files) ->
  ``{"mask_png_bytes": string[batch]}``: one single-channel 8-bit PNG of class ids per image,
  each at its own image's size (so images of different sizes can share a request; K <= 256).

Translation models:

- ``serving_default``: ``{"images": uint8[batch, H, W, 3]}`` -> ``{"images": uint8[batch, H, W,
  3]}`` (resized to S x S, translated, resized back);
- ``translate_image_bytes``: ``{"image_bytes": string[batch]}`` -> ``{"png_bytes":
  string[batch]}``, each PNG at its input's size.

Names ending in ``_bytes`` are the ones TF Serving's REST API base64-wraps. Bad input (bytes
that are not an image, an image with a zero side) fails with an ``InvalidArgument`` error that
says so; nothing crashes the server. So does a file whose header declares more than the
export's ``max_pixels`` (default :func:`default_max_pixels`), before it is decoded: the
resizing around the model and the per-pixel outputs grow with the pixels. Everything is traced
without XLA (TF Serving disables it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.errors import UserError
from tfgan_apps.export.image_io import (
    check_image_batch,
    check_max_pixels,
    map_image_files,
    record_max_pixels,
)

#: What one ``*_image_bytes`` request may add to the serving process's memory at the default
#: pixel limit (see :func:`default_max_pixels`).
MEMORY_BUDGET_BYTES = 4 * 2 ** 30

#: The default limit of models whose outputs are small (translation, few classes): the model
#: sees every image at S x S, so a larger photo is better downscaled by the client.
MAX_DEFAULT_PIXELS = 16_000_000


def default_max_pixels(model: keras.Model) -> int:
    """The default pixel limit of ``model``'s ``*_image_bytes`` signature.

    Whatever S, the memory of one request grows with the pixels through the full-size float32
    result of resizing the output back, C channels of it (K classes, or 3 colours). On CPU,
    above the loaded model, it peaked at 1062 bytes per pixel for K = 256 (4.0 GiB at 4M
    pixels), 18 for K = 4 and 14 to 17 for translation (``benchmarks/serving_memory.py``),
    i.e. about 4 bytes per channel and pixel. The limit allows ``5 * C + 20`` bytes per pixel
    within :data:`MEMORY_BUDGET_BYTES`, rounded down to 100,000 pixels, and at most
    :data:`MAX_DEFAULT_PIXELS`: 3.3M pixels for K = 256, 16M up to K = 49.

    Args:
        model: a :class:`~tfgan_apps.models.Pix2Pix`.

    Returns:
        A positive int.
    """
    channels = int(model.generator.output_shape[-1])
    fit = MEMORY_BUDGET_BYTES // (5 * channels + 20) // 100_000 * 100_000
    return max(100_000, min(MAX_DEFAULT_PIXELS, fit))


def _to_model_input(images: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 ``[batch, H, W, 3]`` -> float32 ``[batch, S, S, 3]`` in [-1, 1] (resized as pixel
    values, then converted; the antialiasing kernel can overshoot, hence the clip)."""
    resized = tf.image.resize(tf.cast(images, tf.float32), [size, size], antialias=True)
    return tf.clip_by_value(to_signed_unit(resized), -1.0, 1.0)


def segment_images(generator: keras.Model, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """uint8 ``[batch, H, W, 3]`` -> ``{"mask": int32[batch, H, W], "probabilities":
    float32[batch, H, W, K]}`` with a segmentation U-Net of fixed size S (see module doc)."""
    images = tf.convert_to_tensor(images)
    with tf.control_dependencies(check_image_batch(images)):
        size = int(generator.input_shape[1])
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        logits = generator(_to_model_input(images, size), training=False)
    logits = tf.image.resize(tf.cast(logits, tf.float32), tf.stack([height, width]))
    probabilities = tf.nn.softmax(logits)
    # argmax of the returned probabilities (not of the logits): consistent even on near-ties.
    return {"mask": tf.argmax(probabilities, axis=-1, output_type=tf.int32),
            "probabilities": probabilities}


def translate_images(generator: keras.Model, images: tf.Tensor) -> tf.Tensor:
    """uint8 ``[batch, H, W, 3]`` -> uint8 ``[batch, H, W, 3]`` with a tanh U-Net of size S."""
    images = tf.convert_to_tensor(images)
    with tf.control_dependencies(check_image_batch(images)):
        size = int(generator.input_shape[1])
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        outputs = generator(_to_model_input(images, size), training=False)
    outputs = tf.image.resize(tf.cast(outputs, tf.float32), tf.stack([height, width]),
                              antialias=True)
    return from_signed_unit(outputs)


def build_pix2pix_archive(model: keras.Model, max_pixels: int | None = None
                          ) -> keras.export.ExportArchive:
    """An ``ExportArchive`` of a :class:`~tfgan_apps.models.Pix2Pix`'s generator with the
    signatures of its mode (see the module docstring).

    Args:
        model: the Pix2Pix model.
        max_pixels: the most pixels (height x width) an image file of the ``*_image_bytes``
            signature may have (default :func:`default_max_pixels`); baked into it, and
            recorded as the export's :data:`~tfgan_apps.export.image_io.MAX_PIXELS_ATTRIBUTE`.

    Raises:
        UserError: ``max_pixels`` is not a positive integer, or a segmentation model has more
            than 256 classes.
    """
    max_pixels = check_max_pixels(default_max_pixels(model) if max_pixels is None
                                  else max_pixels)
    generator = model.generator
    size = int(generator.input_shape[1])
    # The model sees every image at S x S, so downscaling a large one first loses little.
    too_large_hint = (f"resize it (the model works at {size}x{size}), or export the model "
                      "again with a higher tfgan-apps export --max-pixels")
    images_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
    bytes_spec = tf.TensorSpec([None], tf.string, name="image_bytes")
    archive = keras.export.ExportArchive()
    archive.track(generator)

    if model.mode == "segmentation":
        if model.num_classes > 256:
            raise UserError(f"cannot export {model.num_classes} classes as 8-bit mask PNGs")

        @tf.function(input_signature=[images_spec], jit_compile=False)
        def serving_default(images: tf.Tensor) -> dict[str, tf.Tensor]:
            return segment_images(generator, images)

        @tf.function(input_signature=[bytes_spec], jit_compile=False)
        def segment_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            def mask_pixels(images):
                return tf.cast(segment_images(generator, images)["mask"], tf.uint8)[..., None]

            return {"mask_png_bytes": map_image_files(image_bytes, mask_pixels, max_pixels,
                                                      too_large_hint)}

        archive.add_endpoint("serving_default", serving_default)
        archive.add_endpoint("segment_image_bytes", segment_image_bytes)
        record_max_pixels(archive, max_pixels)
        return archive

    @tf.function(input_signature=[images_spec], jit_compile=False)
    def serving_default(images: tf.Tensor) -> dict[str, tf.Tensor]:  # noqa: F811
        return {"images": translate_images(generator, images)}

    @tf.function(input_signature=[bytes_spec], jit_compile=False)
    def translate_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"png_bytes": map_image_files(
            image_bytes, lambda images: translate_images(generator, images), max_pixels,
            too_large_hint)}

    archive.add_endpoint("serving_default", serving_default)
    archive.add_endpoint("translate_image_bytes", translate_image_bytes)
    record_max_pixels(archive, max_pixels)
    return archive
