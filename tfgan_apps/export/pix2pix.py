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
says so; nothing crashes the server. Everything is traced without XLA (TF Serving disables it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.errors import UserError
from tfgan_apps.export.image_io import check_image_batch, map_image_files


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


def build_pix2pix_archive(model: keras.Model) -> keras.export.ExportArchive:
    """An ``ExportArchive`` of a :class:`~tfgan_apps.models.Pix2Pix`'s generator with the
    signatures of its mode (see the module docstring)."""
    generator = model.generator
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

            return {"mask_png_bytes": map_image_files(image_bytes, mask_pixels)}

        archive.add_endpoint("serving_default", serving_default)
        archive.add_endpoint("segment_image_bytes", segment_image_bytes)
        return archive

    @tf.function(input_signature=[images_spec], jit_compile=False)
    def serving_default(images: tf.Tensor) -> dict[str, tf.Tensor]:  # noqa: F811
        return {"images": translate_images(generator, images)}

    @tf.function(input_signature=[bytes_spec], jit_compile=False)
    def translate_image_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"png_bytes": map_image_files(
            image_bytes, lambda images: translate_images(generator, images))}

    archive.add_endpoint("serving_default", serving_default)
    archive.add_endpoint("translate_image_bytes", translate_image_bytes)
    return archive
