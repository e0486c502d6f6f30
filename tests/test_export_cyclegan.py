"""CycleGAN serving signatures, called as TF Serving would: both directions, any size, the
Keras model's outputs, PNG bytes at each input's own size, clear InvalidArgument errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import CycleGAN, export_saved_model
from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.inference import translate_any_size

SIGNATURES = {"serving_default", "a2b", "b2a", "a2b_image_bytes", "b2a_image_bytes"}


def _no_xla_functions(path: str) -> bool:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return not any("_XlaMustCompile" in fn.attr and fn.attr["_XlaMustCompile"].b
                   for fn in proto.meta_graphs[0].graph_def.library.function)


@pytest.fixture(scope="module")
def model() -> CycleGAN:
    tf.keras.utils.set_random_seed(0)
    return CycleGAN(image_size=16, base_filters=4, discriminator_filters=4,
                    discriminator_layers=2, num_residual_blocks=1, pool_size=2)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = export_saved_model(model, str(tmp_path_factory.mktemp("export")))
    assert path.endswith(os.path.join("cyclegan", "1"))
    assert _no_xla_functions(path)  # TF Serving disables XLA
    return tf.saved_model.load(path)


def images(batch, height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, height, width, 3), np.uint8)


def expected_uint8(generator, x):
    return from_signed_unit(translate_any_size(generator, to_signed_unit(x))).numpy()


def test_signatures_are_listed(exported):
    assert set(exported.signatures) == SIGNATURES


@pytest.mark.parametrize("height, width", [(16, 16), (21, 30), (4, 5), (64, 48)])
@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_uint8_signatures_translate_any_size(exported, model, direction, height, width):
    x = images(2, height, width)
    out = exported.signatures[direction](images=tf.constant(x))
    assert set(out) == {"images"}
    assert out["images"].dtype == tf.uint8 and out["images"].shape == x.shape
    generator = model.g_ab if direction == "a2b" else model.g_ba
    difference = np.abs(out["images"].numpy().astype(int) - expected_uint8(generator, x))
    assert difference.max() <= 1  # float rounding at .5 only


def test_serving_default_is_a2b(exported):
    x = tf.constant(images(1, 20, 24, seed=3))
    np.testing.assert_array_equal(exported.signatures["serving_default"](images=x)["images"],
                                  exported.signatures["a2b"](images=x)["images"])


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_image_bytes_signatures_keep_each_size(exported, direction):
    first, second = images(1, 33, 17, seed=1)[0], images(1, 12, 40, seed=2)[0]
    encoded = [tf.io.encode_png(first).numpy(), tf.io.encode_jpeg(second).numpy()]
    out = exported.signatures[f"{direction}_image_bytes"](image_bytes=tf.constant(encoded))
    assert set(out) == {"png_bytes"} and out["png_bytes"].shape == (2,)
    decoded = [tf.io.decode_png(p).numpy() for p in out["png_bytes"].numpy()]
    assert decoded[0].shape == (33, 17, 3) and decoded[1].shape == (12, 40, 3)
    # the PNG holds what the uint8 signature returns for the same image
    direct = exported.signatures[direction](images=tf.constant(first[None]))["images"][0]
    np.testing.assert_array_equal(decoded[0], direct)


@pytest.mark.parametrize("payload, message", [
    (b"certainly not an image", "Unknown image file format"),
    (b"", "image_bytes is empty"),
])
def test_bad_bytes_are_invalid_argument(exported, payload, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        exported.signatures["a2b_image_bytes"](image_bytes=tf.constant([payload]))


def test_too_small_or_wrong_channels_are_invalid_argument(exported):
    tiny = tf.io.encode_png(images(1, 3, 40)[0]).numpy()
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 4x4"):
        exported.signatures["b2a_image_bytes"](image_bytes=tf.constant([tiny]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 4x4"):
        exported.signatures["a2b"](images=tf.constant(images(1, 2, 9)))


def test_unet_generators_export_at_any_size_too(tmp_path):
    model = CycleGAN(image_size=32, generator="unet", base_filters=2, discriminator_filters=2,
                     pool_size=1)
    served = tf.saved_model.load(export_saved_model(model, str(tmp_path)))
    out = served.signatures["b2a"](images=tf.constant(images(1, 20, 45)))["images"]
    assert out.shape == (1, 20, 45, 3) and out.dtype == tf.uint8
