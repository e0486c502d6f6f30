"""Versioned atomic export and the DCGAN serving signatures, called as TF Serving would."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import DCGAN, export_saved_model
from tfgan_apps.data.convert import from_signed_unit
from tfgan_apps.export import existing_versions, next_version
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator
from tfgan_apps.saved_models import generate_images, resolve_model_dir


@pytest.fixture(scope="module")
def dcgan() -> DCGAN:
    return DCGAN(build_dcgan_generator(28, 1, 8, 8), build_dcgan_discriminator(28, 1, 8))


def test_dcgan_signatures_return_documented_dtypes_and_shapes(dcgan, tmp_path):
    path = export_saved_model(dcgan, str(tmp_path))
    assert path == os.path.join(str(tmp_path), "dcgan", "1")
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "generate_png"}
    z = dcgan.sample_noise(3, seed=4)

    out = loaded.signatures["serving_default"](z=z)
    assert set(out) == {"images"}
    assert out["images"].dtype == tf.uint8 and out["images"].shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(out["images"].numpy(), from_signed_unit(dcgan(z)).numpy())

    png = loaded.signatures["generate_png"](z=z)
    assert set(png) == {"png_bytes"}
    assert png["png_bytes"].dtype == tf.string and png["png_bytes"].shape == (3,)
    decoded = tf.io.decode_png(png["png_bytes"][0]).numpy()
    np.testing.assert_array_equal(decoded, out["images"][0].numpy())

    assert not xla_required_functions(path)  # TF Serving disables XLA


def xla_required_functions(path: str) -> list[str]:
    """Names of the SavedModel's functions marked ``_XlaMustCompile=True``."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library
    return [fn.signature.name for fn in library.function
            if "_XlaMustCompile" in fn.attr and fn.attr["_XlaMustCompile"].b]


def test_versions_are_integers_and_never_overwritten(dcgan, tmp_path):
    root = str(tmp_path)
    assert export_saved_model(dcgan, root).endswith(os.path.join("dcgan", "1"))
    assert export_saved_model(dcgan, root).endswith(os.path.join("dcgan", "2"))
    assert export_saved_model(dcgan, root, version=7).endswith(os.path.join("dcgan", "7"))
    assert existing_versions(os.path.join(root, "dcgan")) == [1, 2, 7]
    assert next_version(os.path.join(root, "dcgan")) == 8
    with pytest.raises(ValueError, match="already exists"):
        export_saved_model(dcgan, root, version=2)
    with pytest.raises(ValueError, match="positive integer"):
        export_saved_model(dcgan, root, version=0)
    with pytest.raises(ValueError, match="invalid model name"):
        export_saved_model(dcgan, root, name="../escape")
    # no temporary directories left behind
    assert sorted(os.listdir(os.path.join(root, "dcgan"))) == ["1", "2", "7"]


def test_failed_export_leaves_no_version(dcgan, tmp_path, monkeypatch):
    from tfgan_apps import get_application

    class HalfWritten:  # an archive whose write fails midway, with a file already written
        def write_out(self, path, verbose=False):
            with open(os.path.join(path, "saved_model.pb"), "w") as f:
                f.write("partial")
            raise RuntimeError("disk full")

    monkeypatch.setattr(get_application("dcgan"), "export_archive", lambda m: HalfWritten())
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(dcgan, str(tmp_path))
    assert os.listdir(os.path.join(str(tmp_path), "dcgan")) == []


def test_generate_images_matches_the_model(dcgan, tmp_path):
    export_saved_model(dcgan, str(tmp_path))
    images = generate_images(os.path.join(str(tmp_path), "dcgan"), 5, seed=9)
    np.testing.assert_array_equal(images, from_signed_unit(dcgan.generate(5, seed=9)).numpy())


def test_unreadable_model_dirs(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "missing"))
    (tmp_path / "empty" / "1").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a SavedModel directory"):
        resolve_model_dir(str(tmp_path / "empty"))


def test_unsupported_model_is_a_clear_error(tmp_path):
    import keras

    with pytest.raises(ValueError, match="cannot export a Sequential"):
        export_saved_model(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path))
