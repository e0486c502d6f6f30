"""pix2pix serving signatures, called as TF Serving would: dtypes, shapes, original sizes,
agreement with the Keras model, and clear InvalidArgument errors for bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import export_saved_model
from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.models.pix2pix import Pix2Pix
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator


def _no_xla_functions(path: str) -> bool:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return not any("_XlaMustCompile" in fn.attr and fn.attr["_XlaMustCompile"].b
                   for fn in proto.meta_graphs[0].graph_def.library.function)


@pytest.fixture(scope="module")
def segmenter() -> Pix2Pix:
    generator = build_unet_generator(32, 3, 4, base_filters=4, max_filters=16,
                                     output_activation=None)
    return Pix2Pix(generator, build_patch_discriminator(32, 3, 4, base_filters=4))


@pytest.fixture(scope="module")
def exported_segmenter(segmenter, tmp_path_factory) -> tf.types.experimental.GenericFunction:
    path = export_saved_model(segmenter, str(tmp_path_factory.mktemp("export")))
    assert path.endswith(os.path.join("pix2pix", "1"))
    assert _no_xla_functions(path)  # TF Serving disables XLA
    return tf.saved_model.load(path)


def random_images(batch, height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, height, width, 3), np.uint8)


def test_segmentation_signatures_are_listed(exported_segmenter):
    assert set(exported_segmenter.signatures) == {"serving_default", "segment_image_bytes"}


@pytest.mark.parametrize("height, width", [(32, 32), (45, 70), (7, 3), (100, 64)])
def test_serving_default_returns_mask_and_probabilities_at_the_input_size(
        exported_segmenter, height, width):
    out = exported_segmenter.signatures["serving_default"](
        images=tf.constant(random_images(2, height, width)))
    assert set(out) == {"mask", "probabilities"}
    assert out["mask"].dtype == tf.int32 and out["mask"].shape == (2, height, width)
    assert out["probabilities"].dtype == tf.float32
    assert out["probabilities"].shape == (2, height, width, 4)
    probabilities = out["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["mask"].numpy(), probabilities.argmax(-1))


def test_serving_default_matches_the_keras_model_at_its_own_size(exported_segmenter,
                                                                  segmenter):
    images = random_images(3, 32, 32, seed=1)
    out = exported_segmenter.signatures["serving_default"](images=tf.constant(images))
    expected = segmenter.predict_probabilities(to_signed_unit(images))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected.numpy(), atol=1e-5)


def test_image_bytes_give_one_png_per_image_at_its_own_size(exported_segmenter):
    first, second = random_images(1, 40, 56, seed=2)[0], random_images(1, 17, 23, seed=3)[0]
    request = tf.constant([tf.io.encode_png(first).numpy(), tf.io.encode_png(second).numpy()])
    out = exported_segmenter.signatures["segment_image_bytes"](image_bytes=request)
    assert set(out) == {"mask_png_bytes"}
    pngs = out["mask_png_bytes"]
    assert pngs.dtype == tf.string and pngs.shape == (2,)
    for png, image in zip(pngs, (first, second), strict=True):
        mask = tf.io.decode_png(png).numpy()
        assert mask.shape == image.shape[:2] + (1,) and mask.dtype == np.uint8
        direct = exported_segmenter.signatures["serving_default"](
            images=tf.constant(image[None]))["mask"][0].numpy()
        np.testing.assert_array_equal(mask[..., 0], direct)
    jpeg = tf.io.encode_jpeg(first).numpy()  # other formats decode too
    out = exported_segmenter.signatures["segment_image_bytes"](image_bytes=tf.constant([jpeg]))
    assert tf.io.decode_png(out["mask_png_bytes"][0]).shape == (40, 56, 1)


@pytest.mark.parametrize("contents, message", [
    (b"this is not an image", "Unknown image file format"),
    (b"", "image_bytes is empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "PNG"),  # a truncated PNG
])
def test_bad_bytes_fail_with_invalid_argument(exported_segmenter, contents, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        exported_segmenter.signatures["segment_image_bytes"](image_bytes=tf.constant([contents]))


def test_zero_size_images_fail_with_invalid_argument(exported_segmenter):
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 1 pixel"):
        exported_segmenter.signatures["serving_default"](images=tf.zeros([1, 0, 5, 3], tf.uint8))
    # The server keeps working after a bad request.
    out = exported_segmenter.signatures["serving_default"](images=tf.zeros([1, 5, 5, 3],
                                                                           tf.uint8))
    assert out["mask"].shape == (1, 5, 5)


def test_translation_signatures(tmp_path):
    model = Pix2Pix(mode="translation", image_size=32, base_filters=4)
    path = export_saved_model(model, str(tmp_path))
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "translate_image_bytes"}
    images = random_images(2, 50, 30, seed=4)
    out = loaded.signatures["serving_default"](images=tf.constant(images))
    assert set(out) == {"images"}
    assert out["images"].dtype == tf.uint8 and out["images"].shape == (2, 50, 30, 3)
    square = random_images(1, 32, 32, seed=5)
    expected = from_signed_unit(model(to_signed_unit(square))).numpy()
    got = loaded.signatures["serving_default"](images=tf.constant(square))["images"].numpy()
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    request = tf.constant([tf.io.encode_png(images[0]).numpy(),
                           tf.io.encode_png(square[0]).numpy()])
    pngs = loaded.signatures["translate_image_bytes"](image_bytes=request)["png_bytes"]
    assert [tuple(tf.io.decode_png(p).shape) for p in pngs] == [(50, 30, 3), (32, 32, 3)]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["translate_image_bytes"](image_bytes=tf.constant([b"nope"]))
