"""The one random jitter of pix2pix and CycleGAN: load size, shared crop and flip, datasets."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_apps.data import jitter
from tfgan_apps.data.jitter import jitter_batches, jitter_load_size, random_crop_and_flip
from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs
from tfgan_apps.data.unpaired import load_unpaired_folders
from tfgan_apps.errors import UserError


def coordinates(batch, height, width):
    """``int32 [batch, H, W, 3]``: each pixel holds (row, column, 0) of itself."""
    rows, cols = np.mgrid[:height, :width]
    grid = np.stack([rows, cols, np.zeros_like(rows)], -1)
    return np.broadcast_to(grid, (batch, height, width, 3)).astype(np.int32)


def test_load_size_keeps_the_papers_ratio():
    assert [jitter_load_size(s) for s in (64, 128, 256)] == [72, 143, 286]
    with pytest.raises(UserError, match="image_size"):
        jitter_load_size(0)


def test_crop_and_flip_is_shared_by_a_mask_and_by_a_second_image():
    """Exact: every output pixel of the three tensors comes from the same source pixel."""
    batch, load, size = 16, 20, 16
    images = coordinates(batch, load, load)
    masks = images[..., 0] * load + images[..., 1]  # [batch, L, L] code of the coordinates
    other = images[..., ::-1] * 2  # a second image, e.g. B of an A|B pair
    seed = tf.constant([7, 0], tf.int64)
    out_images, out_masks, out_other = (t.numpy() for t in random_crop_and_flip(
        (tf.constant(images), tf.constant(masks), tf.constant(other)), size, seed))
    assert out_images.shape == (batch, size, size, 3) and out_masks.shape == (batch, size, size)
    np.testing.assert_array_equal(out_masks, out_images[..., 0] * load + out_images[..., 1])
    np.testing.assert_array_equal(out_other, out_images[..., ::-1] * 2)
    # Crops are contiguous windows, some mirrored: columns step by +1 or -1, rows by +1.
    steps = np.diff(out_images[..., 1], axis=2)
    flipped = np.all(steps == -1, axis=(1, 2))
    assert np.all(flipped | np.all(steps == 1, axis=(1, 2)))
    assert np.all(np.diff(out_images[..., 0], axis=1) == 1)
    assert 0 < flipped.sum() < batch
    assert len(set(out_images[:, 0, 0, 0])) > 1  # different crops within one batch
    again = random_crop_and_flip((tf.constant(masks),), size, seed)[0].numpy()
    np.testing.assert_array_equal(again, out_masks)  # stateless: same seed, same draw


def test_crops_cover_every_offset_and_flip_about_half():
    image = np.arange(10 * 10, dtype=np.float32).reshape(1, 10, 10, 1)
    crops, = random_crop_and_flip((tf.constant(np.repeat(image, 256, axis=0)),), 6,
                                  tf.constant([1, 2], tf.int64))
    crops = crops.numpy()
    tops, lefts, flipped = set(), set(), 0
    for crop in crops:
        top, left = divmod(int(crop.min()), 10)
        window = image[0, top:top + 6, left:left + 6]
        assert np.array_equal(crop, window) or np.array_equal(crop, window[:, ::-1])
        flipped += not np.array_equal(crop, window)
        tops.add(top)
        lefts.add(left)
    assert tops == lefts == set(range(5))  # offsets 0..L-S, all drawn
    assert 64 < flipped < 192


def test_jitter_batches_shares_within_pairs_and_not_across_domains():
    images = coordinates(8, 12, 12)
    ds = tf.data.Dataset.from_tensors((images, images))
    shared_a, shared_b = next(iter(jitter_batches(ds, 8, seed=3, shared=True)))
    np.testing.assert_array_equal(shared_a, shared_b)
    own_a, own_b = next(iter(jitter_batches(ds, 8, seed=3, shared=False)))
    assert own_a.shape == own_b.shape == (8, 8, 8, 3)
    assert not np.array_equal(own_a, own_b)  # unpaired domains draw independently
    alone = next(iter(jitter_batches(ds.map(lambda a, b: a), 8, seed=3, shared=True)))
    np.testing.assert_array_equal(alone, shared_a)  # a single tensor: the same draw


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    """Two images, two masks and two side-by-side A|B images of 8x8 (resized up as needed)."""
    root = tmp_path_factory.mktemp("jitter")
    for name in ("images", "masks", "aligned"):
        (root / name).mkdir()
    for index in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * index, np.uint8)).save(root / "images" /
                                                                       f"{index}.png")
        Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(root / "masks" / f"{index}.png")
        Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(root / "aligned" / f"{index}.png")
    return root


@pytest.mark.parametrize("image_size, load_size", [(64, 72), (128, 143), (256, 286)])
def test_paired_and_unpaired_pipelines_load_at_the_same_size(
        tiny_folders, monkeypatch, image_size, load_size):
    seen = []

    def recording(tensors, size, seed):
        seen.extend((size, int(t.shape[1]), int(t.shape[2])) for t in tensors)
        return random_crop_and_flip(tensors, size, seed)

    # The datasets' map functions are traced when built, so building them records the sizes.
    monkeypatch.setattr(jitter, "random_crop_and_flip", recording)
    common = {"image_size": image_size, "batch_size": 1, "augment": True}
    load_folder_pairs(tiny_folders / "images", tiny_folders / "masks", 1, **common)
    load_aligned_pairs(tiny_folders / "aligned", **common)
    load_unpaired_folders(tiny_folders / "images", tiny_folders / "aligned", **common)
    assert len(seen) == 6  # image + mask, A + B, then one per domain
    assert set(seen) == {(image_size, load_size, load_size)}
