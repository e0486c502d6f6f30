"""Unpaired CycleGAN data: cycle_gan through mock_data, the built-in style set, two folders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tfgan_apps.data.unpaired import (
    load_style_test_triplets,
    load_tfds_unpaired,
    load_unpaired_dataset,
    load_unpaired_folders,
    resolve_unpaired_name,
)
from tfgan_apps.errors import UserError, UserPathError


def _write_images(folder, sizes, colour, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (height, width) in enumerate(sizes):
        pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (height, width, 3)), 0, 255)
        suffix = "png" if i % 2 else "jpg"
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"img{i}.{suffix}")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A: 3 bright images, B: 5 dark ones, of assorted sizes, plus files that are not images."""
    root = tmp_path_factory.mktemp("unpaired")
    _write_images(root / "a", [(40, 60), (33, 33), (80, 45)], (220, 210, 180), seed=1)
    _write_images(root / "b", [(50, 50), (30, 70), (64, 64), (41, 39), (100, 20)], (20, 30, 60),
                  seed=2)
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_resolve_unpaired_names():
    assert resolve_unpaired_name("builtin", None)[:2] == ("tfgan_shapes/style", 64)
    assert resolve_unpaired_name("builtin", 128)[:2] == ("tfgan_shapes/style_128", 128)
    assert resolve_unpaired_name("cycle_gan/monet2photo", None) == (
        "cycle_gan/monet2photo", 256, "image", "image")
    with pytest.raises(UserError, match="cycle_gan/<config>"):
        resolve_unpaired_name("mnist", None)


def test_cycle_gan_through_mock_data():
    with tfds.testing.mock_data(num_examples=6):
        ds = load_tfds_unpaired("cycle_gan/horse2zebra", image_size=32, batch_size=2, seed=3)
        assert int(ds.cardinality()) == 3
        batches = list(ds.as_numpy_iterator())
        test = load_tfds_unpaired("cycle_gan/horse2zebra", split="test", image_size=32,
                                  batch_size=3)
        test_batches = list(test.as_numpy_iterator())
    assert len(batches) == 3 and len(test_batches) == 2
    for a, b in batches + test_batches:
        assert a.shape[1:] == b.shape[1:] == (32, 32, 3)
        assert a.dtype == b.dtype == np.float32
        assert -1 <= a.min() and a.max() <= 1 and -1 <= b.min() and b.max() <= 1


def test_builtin_style_domains_and_determinism():
    ds = load_tfds_unpaired("builtin", batch_size=4, seed=5, deterministic=True)
    assert int(ds.cardinality()) == 2000 // 4
    a, b = next(iter(ds))
    assert a.shape == b.shape == (4, 64, 64, 3)
    # style A: light backgrounds, style B (negatives): dark ones
    assert float(tf.reduce_mean(a)) > 0.2 and float(tf.reduce_mean(b)) < -0.2
    a2, b2 = next(iter(load_tfds_unpaired("builtin", batch_size=4, seed=5, deterministic=True)))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    a3, _ = next(iter(load_tfds_unpaired("builtin", batch_size=4, seed=6, deterministic=True)))
    assert not np.array_equal(a, a3)


def test_style_test_triplets_carry_the_true_translation():
    triplets = load_style_test_triplets(batch_size=16)
    batch = next(iter(triplets))
    assert set(batch) == {"image_a", "image_b", "image_a_in_b"}
    assert batch["image_a"].shape == (16, 64, 64, 3)
    # B = 255 - A, i.e. -A in [-1, 1]
    np.testing.assert_allclose(batch["image_a_in_b"], -batch["image_a"], atol=1e-6)
    assert sum(int(x["image_a"].shape[0]) for x in triplets) == 200
    small = next(iter(load_style_test_triplets(image_size=32, batch_size=2)))
    assert small["image_a_in_b"].shape == (2, 32, 32, 3)
    with pytest.raises(UserError, match="ground-truth"):
        load_style_test_triplets("cycle_gan/horse2zebra")


def test_folders_of_different_counts_repeat_the_smaller(folders):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_unpaired_folders(folders / "a", folders / "b", image_size=16, batch_size=1,
                                   seed=1, deterministic=True)
    assert any("broken.png" in str(w.message) for w in caught)
    assert int(ds.cardinality()) == 5  # the 5 readable B images; A (3) repeats
    pairs = list(ds.as_numpy_iterator())
    assert len(pairs) == 5
    for a, b in pairs:
        assert a.shape == b.shape == (1, 16, 16, 3)
        assert a.mean() > 0.4 and b.mean() < -0.4  # bright A, dark B: never mixed up


def test_folders_without_jitter_and_with_batches(folders):
    ds = load_unpaired_folders(folders / "a", folders / "b", image_size=24, batch_size=2,
                               augment=False, shuffle=False)
    a, b = next(iter(ds))
    assert a.shape == b.shape == (2, 24, 24, 3)


def test_folder_errors(folders, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        load_unpaired_folders(tmp_path / "missing", folders / "b", image_size=16)
    assert isinstance(raised.value, UserPathError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_unpaired_folders(folders / "a", tmp_path / "empty", image_size=16)
    with pytest.raises(UserError, match="batch_size"):
        load_unpaired_folders(folders / "a", folders / "b", image_size=16, batch_size=4)
    with pytest.raises(UserError, match="image_size must be a positive integer, got 0"):
        load_unpaired_folders(folders / "a", folders / "b", image_size=0)


def test_dispatch_between_tfds_and_folders(folders):
    ds = load_unpaired_dataset(data_dir_a=str(folders / "a"), data_dir_b=str(folders / "b"),
                               image_size=16, batch_size=1, augment=None)
    assert ds.element_spec[0].shape == (1, 16, 16, 3)
    with pytest.raises(UserError, match="both data_dir_a and data_dir_b"):
        load_unpaired_dataset(data_dir_a=str(folders / "a"), image_size=16)
    with pytest.raises(ValueError, match="not both"):
        load_unpaired_dataset("builtin", data_dir_a=str(folders / "a"),
                              data_dir_b=str(folders / "b"))
    with pytest.raises(ValueError, match="only apply to TFDS"):
        load_unpaired_dataset(data_dir_a=str(folders / "a"), data_dir_b=str(folders / "b"),
                              image_size=16, split="test")
