"""DCGAN serving signatures.

- ``serving_default``: ``{"z": float32[batch, latent_dim]}`` -> ``{"images":
  uint8[batch, H, W, C]}``
- ``generate_png``: ``{"z": float32[batch, latent_dim]}`` -> ``{"png_bytes": string[batch]}``
  (one PNG per image; the ``_bytes`` suffix makes TF Serving's REST API base64-wrap it).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfgan_apps.data.convert import from_signed_unit
from tfgan_apps.export.image_io import encode_png_batch


def build_dcgan_archive(model: keras.Model) -> keras.export.ExportArchive:
    """An ``ExportArchive`` of a DCGAN's generator with the two signatures above (its
    moving-average generator when it keeps one)."""
    generator = getattr(model, "inference_generator", model.generator)
    latent_dim = int(generator.input_shape[-1])
    z_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="z")

    archive = keras.export.ExportArchive()
    archive.track(generator)

    # jit_compile=False: TF Serving runs without XLA.
    @tf.function(input_signature=[z_spec], jit_compile=False)
    def serving_default(z: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"images": from_signed_unit(generator(z, training=False))}

    @tf.function(input_signature=[z_spec], jit_compile=False)
    def generate_png(z: tf.Tensor) -> dict[str, tf.Tensor]:
        images = from_signed_unit(generator(z, training=False))
        return {"png_bytes": encode_png_batch(images)}

    archive.add_endpoint("serving_default", serving_default)
    archive.add_endpoint("generate_png", generate_png)
    return archive
