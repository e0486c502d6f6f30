"""Tests of tfgan_apps.data.pipelines: image folders written with PIL, TFDS through mock_data.

Nothing touches the network: ``tfds.testing.mock_data`` serves deterministic random uint8
examples with each dataset's real feature shapes (e.g. CelebA 218x178x3).
"""

import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tfgan_apps.data import pipelines
from tfgan_apps.data.checks import check_channels, check_positive_int
from tfgan_apps.data.convert import from_signed_unit, from_signed_unit_numpy, to_signed_unit
from tfgan_apps.data.files import decode_image, find_unreadable_images, list_image_files
from tfgan_apps.data.pipelines import (
    finalize,
    load_generation_dataset,
    load_image_folder,
    load_tfds_images,
    resize_and_center_crop,
)
from tfgan_apps.errors import UserError, UserPathError

RED, GREEN = (255, 0, 0), (0, 255, 0)


def _random_image(height, width, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def _write(path, image, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)
    return path


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """7 readable images (mixed formats, sizes, modes, nesting) + 2 corrupt + 2 non-image files."""
    root = tmp_path_factory.mktemp("images")
    _write(root / "a.png", _random_image(40, 60, seed=1))
    _write(root / "sub" / "b.JPG", _random_image(50, 30, seed=2), "JPEG")
    _write(root / "sub" / "deeper" / "c.bmp", _random_image(33, 33, seed=3))
    frames = [_random_image(20, 45, seed=4), _random_image(20, 45, seed=8)]  # animated GIF
    frames[0].save(root / "d.gif", save_all=True, append_images=frames[1:])
    _write(root / "gray.png", _random_image(64, 64, "L", seed=5))
    _write(root / "sub" / "rgba.png", _random_image(30, 30, "RGBA", seed=6))
    _write(root / "e.jpeg", _random_image(17, 90, seed=7))
    png = (root / "a.png").read_bytes()
    (root / "sub" / "truncated.png").write_bytes(png[: len(png) // 2])
    (root / "fake.jpg").write_text("this is not a jpeg")
    (root / "README.txt").write_text("not an image, and not an image extension")
    (root / "sub" / "notes.md").write_text("ignored too")
    return root


def _batches(ds):
    return [batch.numpy() for batch in ds]


def _load_quietly(directory, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_image_folder(directory, **kwargs)


# ----------------------------------------------------------------------------- building blocks


def test_signed_unit_round_trip_is_exact():
    values = tf.range(256, dtype=tf.int32)
    x = to_signed_unit(tf.cast(values, tf.uint8))
    assert x.dtype == tf.float32
    assert float(x[0]) == -1.0 and float(x[-1]) == 1.0
    np.testing.assert_array_equal(from_signed_unit(x).numpy(), np.arange(256))
    assert from_signed_unit(tf.constant([-3.0, 3.0])).numpy().tolist() == [0, 255]
    # The numpy twin is the same formula, also on values between two pixels.
    between = np.linspace(-1.2, 1.2, 4001, dtype=np.float32)
    np.testing.assert_array_equal(from_signed_unit_numpy(between),
                                  from_signed_unit(between).numpy())
    assert from_signed_unit_numpy(x.numpy()).dtype == np.uint8


@pytest.mark.parametrize("value", [0, -3, 2.0, True, None, "8"])
def test_one_positive_int_check(value):
    with pytest.raises(UserError, match=f"image_size must be a positive integer, got {value!r}"
                       ) as raised:
        check_positive_int("image_size", value)
    assert raised.value.option == "image_size"  # the CLI names its flag there instead
    assert check_positive_int("image_size", 8) == 8
    with pytest.raises(UserError, match="channels must be 1"):
        check_channels(2)


@pytest.mark.parametrize("shape", [(40, 60, 3), (60, 40, 1), (16, 16, 3), (5, 9, 3)])
def test_resize_and_center_crop_shapes(shape):
    image = tf.zeros(shape, tf.uint8)
    out = resize_and_center_crop(image, 16)
    assert out.shape == (16, 16, shape[-1]) and out.dtype == tf.uint8


def test_resize_and_center_crop_keeps_aspect_and_nearest_keeps_labels():
    tall = np.zeros((90, 30, 1), np.uint8)
    tall[:30], tall[60:] = 1, 2  # top third 1, middle 0, bottom third 2
    out = resize_and_center_crop(tall, 10, method="nearest").numpy()
    assert out.shape == (10, 10, 1)
    np.testing.assert_array_equal(out, 0)  # only the middle third survives the centre crop
    labels = np.random.default_rng(0).integers(0, 4, (37, 23, 1)).astype(np.uint8)
    assert set(np.unique(resize_and_center_crop(labels, 8, "nearest"))) <= {0, 1, 2, 3}
    with pytest.raises(UserError, match="bicubic"):
        resize_and_center_crop(labels, 8, method="bicubic")


@pytest.mark.parametrize("name", ["d.gif", "sub/deeper/c.bmp", "gray.png", "sub/rgba.png"])
@pytest.mark.parametrize("channels", [1, 3])
def test_decode_image_channels(image_folder, name, channels):
    image = decode_image(tf.io.read_file(str(image_folder / name)), channels)
    assert image.dtype == tf.uint8 and image.shape.rank == 3 and image.shape[-1] == channels


def test_list_image_files_is_recursive_sorted_and_case_insensitive(image_folder):
    names = [os.path.relpath(p, image_folder) for p in list_image_files(image_folder)]
    assert names == sorted(names)
    assert set(names) == {
        "a.png",
        "d.gif",
        "e.jpeg",
        "fake.jpg",
        "gray.png",
        "sub/b.JPG",
        "sub/deeper/c.bmp",
        "sub/rgba.png",
        "sub/truncated.png",
    }


def test_find_unreadable_images(image_folder):
    paths = list_image_files(image_folder)
    bad = [os.path.relpath(p, image_folder) for p in find_unreadable_images(paths)]
    assert bad == ["fake.jpg", "sub/truncated.png"]
    assert find_unreadable_images([]) == []


def test_finalize_checks_batch_size_against_known_size():
    ds = tf.data.Dataset.range(5)
    with pytest.raises(UserError, match="5 examples, fewer than batch_size=8"):
        finalize(
            ds,
            batch_size=8,
            shuffle=False,
            seed=0,
            deterministic=True,
            drop_remainder=True,
            cache=False,
        )
    with pytest.raises(ValueError, match="seed"):
        finalize(
            ds,
            batch_size=2,
            shuffle=True,
            seed=None,
            deterministic=True,
            drop_remainder=True,
            cache=False,
        )
    out = finalize(
        ds,
        batch_size=2,
        shuffle=False,
        seed=None,
        deterministic=True,
        drop_remainder=False,
        cache=True,
    )
    assert [b.tolist() for b in out.as_numpy_iterator()] == [[0, 1], [2, 3], [4]]


# ----------------------------------------------------------------------------- image folders


def test_image_folder_skips_corrupt_files_with_one_counting_warning(image_folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(image_folder, image_size=16, batch_size=7, deterministic=True)
    messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(messages) == 1
    # Only the two files with an image extension count; README.txt / notes.md are ignored.
    assert "skipped 2 of 9 files" in messages[0]
    assert "fake.jpg" in messages[0] and "truncated.png" in messages[0]
    assert "README" not in messages[0] and "notes.md" not in messages[0]
    (batch,) = _batches(ds)
    assert batch.shape == (7, 16, 16, 3) and batch.dtype == np.float32
    assert -1.0 <= batch.min() < 0.0 < batch.max() <= 1.0


@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_channels_and_partial_batches(image_folder, channels):
    ds = _load_quietly(
        image_folder,
        image_size=8,
        channels=channels,
        batch_size=4,
        drop_remainder=False,
        cache=False,
    )
    assert [b.shape for b in _batches(ds)] == [(4, 8, 8, channels), (3, 8, 8, channels)]
    ds = _load_quietly(image_folder, image_size=8, channels=channels, batch_size=4)
    assert ds.element_spec.shape.as_list() == [4, 8, 8, channels]  # static for XLA/strategies
    assert [b.shape for b in _batches(ds)] == [(4, 8, 8, channels)]


def test_image_folder_centre_crops_instead_of_stretching(tmp_path):
    wide = np.zeros((40, 120, 3), np.uint8)
    wide[:, :40], wide[:, 40:80], wide[:, 80:] = RED, GREEN, RED
    _write(tmp_path / "wide.png", Image.fromarray(wide))
    (image,) = _batches(load_image_folder(tmp_path, image_size=20, batch_size=1, shuffle=False))[0]
    red, green = image[..., 0], image[..., 1]
    # Stretching would keep the red thirds on both sides; the centre crop is the green third
    # (antialiasing blends a little red into the outermost columns only).
    assert (green > red).all()
    assert (green[:, 1:-1] > 0.95).all() and (red[:, 1:-1] < -0.95).all()


def test_image_folder_is_deterministic_per_seed(image_folder):
    def first_epoch(seed):
        ds = _load_quietly(image_folder, image_size=8, batch_size=7, seed=seed, deterministic=True)
        return _batches(ds)[0]

    np.testing.assert_array_equal(first_epoch(3), first_epoch(3))
    assert not np.array_equal(first_epoch(3), first_epoch(4))


def test_image_folder_errors(tmp_path, image_folder):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as raised:
        load_image_folder(missing, image_size=8)
    assert isinstance(raised.value, UserPathError)
    with pytest.raises(ValueError, match="is a file") as raised:
        load_image_folder(image_folder / "a.png", image_size=8)
    assert isinstance(raised.value, UserPathError)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("hi")
    with pytest.raises(UserError, match=r"no images.*README\.txt.*\.png"):
        load_image_folder(empty, image_size=8)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match="none of the 1 image files"):
        load_image_folder(only_bad, image_size=8)
    with pytest.raises(ValueError, match="7 readable images, fewer than batch_size=64"):
        _load_quietly(image_folder, image_size=8)
    with pytest.raises(UserError, match="channels"):
        load_image_folder(image_folder, image_size=8, channels=4)
    with pytest.raises(UserError, match="batch_size must be a positive integer"):
        load_image_folder(image_folder, image_size=8, batch_size=0)


# ----------------------------------------------------------------------------- TFDS (mocked)


def test_mnist_shapes_range_and_conversion():
    with tfds.testing.mock_data(num_examples=20):
        native = load_tfds_images("mnist", batch_size=8)
        rgb32 = load_tfds_images("mnist", image_size=32, channels=3, batch_size=8)
    batches = _batches(native)
    assert [b.shape for b in batches] == [(8, 28, 28, 1)] * 2  # 20 // 8, remainder dropped
    assert batches[0].dtype == np.float32
    assert -1.0 <= min(b.min() for b in batches) < 0.0 < max(b.max() for b in batches) <= 1.0
    (first, *_) = _batches(rgb32)
    assert first.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(first[..., 0], first[..., 2])  # grayscale copied to RGB


def test_mnist_is_deterministic_per_seed():
    def first_epoch(seed):
        with tfds.testing.mock_data(num_examples=24):
            ds = load_tfds_images("mnist", batch_size=8, seed=seed, deterministic=True)
        return np.concatenate(_batches(ds))

    np.testing.assert_array_equal(first_epoch(0), first_epoch(0))
    assert not np.array_equal(first_epoch(0), first_epoch(1))


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("fashion_mnist", {}, (2, 28, 28, 1)),
        ("cifar10", {}, (2, 32, 32, 3)),
        ("cifar10", {"channels": 1, "image_size": 16}, (2, 16, 16, 1)),
        ("celeb_a", {}, (2, 64, 64, 3)),  # mock images are the real 218x178
        ("celeb_a", {"image_size": 32}, (2, 32, 32, 3)),
        ("cifar100", {"image_key": "image"}, (2, 32, 32, 3)),  # any dataset with image_key
    ],
)
def test_tfds_datasets_shapes(name, kwargs, shape):
    with tfds.testing.mock_data(num_examples=4):
        ds = load_tfds_images(name, batch_size=2, **kwargs)
    batch = next(iter(ds)).numpy()
    assert batch.shape == shape and batch.dtype == np.float32
    assert -1.0 <= batch.min() and batch.max() <= 1.0


def test_tfds_errors():
    with pytest.raises(UserError, match=r"unknown dataset 'imagenet_nope'.*builtin.*mnist"):
        load_tfds_images("imagenet_nope")
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match="4 examples, fewer than batch_size=64"):
            load_tfds_images("mnist")
        with pytest.raises(ValueError, match="no 'picture' feature"):
            load_tfds_images("mnist", image_key="picture")


def _builtin_registered():
    try:
        import tfgan_apps.data.builtin  # noqa: F401

        tfds.builder_cls("tfgan_shapes")
    except Exception:  # noqa: BLE001 - any failure means the builder is not ready yet
        return False
    return True


@pytest.mark.skipif(not _builtin_registered(), reason="tfgan_shapes builder not registered yet")
@pytest.mark.parametrize(
    ("image_size", "config", "shape"),
    [
        (None, "tfgan_shapes/generation", (2, 32, 32, 3)),
        (64, "tfgan_shapes/generation_64", (2, 64, 64, 3)),
        (48, "tfgan_shapes/generation_64", (2, 48, 48, 3)),
        (128, "tfgan_shapes/generation_128", (2, 128, 128, 3)),
    ],
)
def test_builtin_alias_picks_the_config_for_the_size(image_size, config, shape):
    assert pipelines._resolve_tfds_name("builtin", image_size) == config
    with tfds.testing.mock_data(num_examples=2):
        ds = load_generation_dataset(image_size=image_size, batch_size=2)
    assert next(iter(ds)).shape == shape


def test_load_generation_dataset_dispatches(image_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_generation_dataset(
            data_dir_images=str(image_folder), image_size=8, channels=None, batch_size=7
        )
    assert ds.element_spec.shape.as_list() == [7, 8, 8, 3]
    with tfds.testing.mock_data(num_examples=2):
        ds = load_generation_dataset("mnist", batch_size=2)
    assert ds.element_spec.shape.as_list() == [2, 28, 28, 1]
    with pytest.raises(ValueError, match="not both"):
        load_generation_dataset("mnist", data_dir_images=str(image_folder), image_size=8)
    with pytest.raises(ValueError, match="image_size is required"):
        load_generation_dataset(data_dir_images=str(image_folder))
