"""Tests of tfgan_apps.data.paired: folders written by the tests, TFDS through mock_data.

Nothing touches the network: ``oxford_iiit_pet`` and ``tfgan_shapes`` are served by
``tfds.testing.mock_data`` with an ``as_dataset_fn`` that yields masks in the real label range
(trimap 1..3; builtin ids 0..3), which the default mock (uniform 0..255) would not.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tfgan_apps.data.convert import from_signed_unit_numpy, to_signed_unit
from tfgan_apps.data.jitter import jitter_load_size
from tfgan_apps.data.paired import (
    OXFORD_PET_CLASS_NAMES,
    load_pix2pix_data,
    load_tfds_segmentation,
    segmentation_class_names,
)
from tfgan_apps.data.paired_folders import (
    load_aligned_pairs,
    load_folder_pairs,
    match_image_mask_pairs,
    read_mask_ids,
)
from tfgan_apps.errors import UserError, UserPathError

# ----------------------------------------------------------------------------- helpers


def save(path, array, mode=None, palette=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(np.asarray(array), mode) if mode else Image.fromarray(array)
    if palette is not None:
        image.putpalette(palette)
    image.save(path)


def blocks_mask(height, width, seed):
    """Piecewise-constant class ids 0..2 in 8x8 blocks."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 3, (height // 8 + 1, width // 8 + 1))
    return np.kron(coarse, np.ones((8, 8), int))[:height, :width].astype(np.uint8)


def image_of(mask):
    """An RGB image whose colour encodes the mask's class: class k -> (80k, 255 - 80k, 40)."""
    mask = mask.astype(np.int32)
    return np.stack([80 * mask, 255 - 80 * mask, np.full_like(mask, 40)], -1).astype(np.uint8)


def class_from_image(images):
    """Inverse of image_of on float images in [-1, 1]: nearest class by the red channel."""
    red = from_signed_unit_numpy(images[..., 0]).astype(np.float32)
    return np.clip(np.round(red / 80.0), 0, 2).astype(np.int32)


@pytest.fixture
def pair_folders(tmp_path):
    """3 pairs: a.jpg/a.png, b.png/b.png (palette), sub/c.png/sub/c.png; sizes 48x40."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    for index, name in enumerate(["a", "b", "sub/c"]):
        mask = blocks_mask(40, 48, index)
        extension = ".jpg" if name == "a" else ".png"
        save(str(images / (name + extension)), image_of(mask))
        if name == "b":  # palette PNG whose colours are unrelated to the indices
            palette = [200, 10, 10, 10, 200, 10, 10, 10, 200] + [0] * 759
            save(str(masks / (name + ".png")), mask, mode="P", palette=palette)
        else:
            save(str(masks / (name + ".png")), mask, mode="L")
    return images, masks


# ------------------------------------------------------------------------- folder pairs


def test_pairs_are_matched_by_stem(pair_folders):
    images, masks = pair_folders
    pairs = match_image_mask_pairs(images, masks, num_classes=3)
    assert [(os.path.relpath(i, images), os.path.relpath(m, masks)) for i, m in pairs] == [
        ("a.jpg", "a.png"), ("b.png", "b.png"), (os.path.join("sub", "c.png"),
                                                 os.path.join("sub", "c.png"))]


def test_palette_masks_give_indices_not_colours(pair_folders):
    _, masks = pair_folders
    ids = read_mask_ids(masks / "b.png")
    np.testing.assert_array_equal(ids, blocks_mask(40, 48, 1))
    assert Image.open(masks / "b.png").mode == "P"


def test_grey_rgb_mask_is_accepted_colour_mask_is_not(tmp_path):
    mask = blocks_mask(16, 16, 0)
    save(str(tmp_path / "grey.png"), np.stack([mask] * 3, -1))
    np.testing.assert_array_equal(read_mask_ids(tmp_path / "grey.png"), mask)
    save(str(tmp_path / "colour.png"), image_of(mask))
    with pytest.raises(UserError, match="colour.png.*single-channel"):
        read_mask_ids(tmp_path / "colour.png")


def test_load_folder_pairs_values(pair_folders):
    images, masks = pair_folders
    ds = load_folder_pairs(images, masks, 3, image_size=32, batch_size=3, shuffle=False)
    x, y = next(iter(ds))
    assert x.shape == (3, 32, 32, 3) and x.dtype == tf.float32
    assert y.shape == (3, 32, 32) and y.dtype == tf.int32
    assert -1.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    assert set(np.unique(y.numpy())) <= {0, 1, 2}
    # Image colours encode the classes: resized image and mask still agree (away from edges).
    agreement = np.mean(class_from_image(x.numpy()) == y.numpy())
    assert agreement > 0.9


def test_image_without_mask(pair_folders):
    images, masks = pair_folders
    save(str(images / "lonely.png"), image_of(blocks_mask(40, 48, 9)))
    with pytest.raises(UserError, match=r"1 image\(s\).*no mask.*lonely.png"):
        load_folder_pairs(images, masks, 3, image_size=32, batch_size=1)


def test_mask_without_image_is_ignored_with_a_warning(pair_folders):
    images, masks = pair_folders
    save(str(masks / "orphan.png"), blocks_mask(40, 48, 9), mode="L")
    with pytest.warns(UserWarning, match="orphan.png"):
        pairs = match_image_mask_pairs(images, masks, 3)
    assert len(pairs) == 3


def test_mask_ids_beyond_num_classes(pair_folders):
    images, masks = pair_folders
    with pytest.raises(UserError, match=r"num_classes=2.*a.png \(max id 2\).*raise num_classes"
                       ) as raised:
        load_folder_pairs(images, masks, 2, image_size=32, batch_size=1)
    assert "--" not in str(raised.value)  # the CLI, not the data layer, names its flags


def test_size_mismatch(pair_folders):
    images, masks = pair_folders
    save(str(masks / "a.png"), blocks_mask(40, 40, 0), mode="L")
    with pytest.raises(ValueError, match=r"differ in size.*a.jpg is 48x40 but a.png is 40x40"):
        load_folder_pairs(images, masks, 3, image_size=32, batch_size=1)


def test_ambiguous_stems(pair_folders):
    images, masks = pair_folders
    save(str(images / "a.png"), image_of(blocks_mask(40, 48, 0)))
    with pytest.raises(ValueError, match="a.jpg and a.png"):
        match_image_mask_pairs(images, masks, 3)


def test_unreadable_image(pair_folders):
    images, masks = pair_folders
    (images / "b.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"not readable images: b.png"):
        match_image_mask_pairs(images, masks, 3)


def test_unreadable_mask(pair_folders):
    images, masks = pair_folders
    (masks / "b.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"mask .*b.png.* not a readable image"):
        match_image_mask_pairs(images, masks, 3)


def test_missing_and_wrong_folders(pair_folders, tmp_path):
    images, masks = pair_folders
    with pytest.raises(FileNotFoundError, match="mask folder") as raised:
        match_image_mask_pairs(images, tmp_path / "nowhere", 3)
    assert isinstance(raised.value, UserPathError)
    with pytest.raises(ValueError, match="is a file") as raised:
        match_image_mask_pairs(images / "a.jpg", masks, 3)
    assert isinstance(raised.value, UserPathError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images") as raised:
        match_image_mask_pairs(tmp_path / "empty", masks, 3)
    assert isinstance(raised.value, UserError)
    with pytest.raises(UserError, match="3 image/mask pairs, fewer than batch_size=4"):
        load_folder_pairs(images, masks, 3, image_size=32, batch_size=4)
    with pytest.raises(UserError, match="num_classes must be a positive integer"):
        match_image_mask_pairs(images, masks, 0)


# ------------------------------------------------------------------------- augmentation


def test_augmented_folder_pipeline_stays_aligned_and_is_deterministic(pair_folders):
    images, masks = pair_folders
    assert jitter_load_size(256) == 286 and jitter_load_size(32) == 36

    def batches(seed):
        ds = load_folder_pairs(images, masks, 3, image_size=32, batch_size=3, augment=True,
                               seed=seed, deterministic=True)
        return [(x.numpy(), y.numpy()) for _ in range(2) for x, y in ds]  # two epochs

    first, second, other = batches(1), batches(1), batches(2)
    for (x, y), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(first[0][1], other[0][1])
    assert not np.array_equal(first[0][1], first[1][1])  # re-drawn every epoch
    for x, y in first:
        assert np.mean(class_from_image(x) == y) > 0.9


def test_deterministic_augmentation_needs_a_seed(pair_folders):
    images, masks = pair_folders
    with pytest.raises(UserError, match="seed"):
        load_folder_pairs(images, masks, 3, image_size=32, batch_size=1, augment=True,
                          shuffle=False, seed=None, deterministic=True)


# ------------------------------------------------------------------------- aligned A|B


@pytest.fixture
def aligned_folder(tmp_path):
    folder = tmp_path / "facades" / "train"
    for index in range(3):
        a = np.full((24, 24, 3), [200, 20, 20], np.uint8)
        b = np.full((24, 24, 3), [20, 20, 200], np.uint8)
        a[:, : 4 + index] = 0  # a dark stripe on the left of A (and of B's position)
        b[:, : 4 + index] = 255
        save(str(folder / f"{index}.png"), np.concatenate([a, b], axis=1))
    return folder


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_aligned_pairs_split_halves(aligned_folder, direction):
    ds = load_aligned_pairs(aligned_folder, direction=direction, image_size=16, batch_size=3,
                            shuffle=False)
    inputs, targets = (t.numpy() for t in next(iter(ds)))
    assert inputs.shape == targets.shape == (3, 16, 16, 3)
    red_input = inputs[..., 0].mean() > inputs[..., 2].mean()
    assert red_input == (direction == "AtoB")


def test_aligned_pairs_jitter_identically(aligned_folder):
    ds = load_aligned_pairs(aligned_folder, image_size=16, batch_size=3, augment=True, seed=3,
                            deterministic=True)
    for inputs, targets in ds:
        stripe_a = inputs.numpy()[..., 0] < -0.5  # black in A
        stripe_b = targets.numpy()[..., 1] > 0.5  # white in B
        assert np.mean(stripe_a == stripe_b) > 0.95


def test_aligned_pairs_bad_inputs(aligned_folder, tmp_path):
    with pytest.raises(UserError, match="direction"):
        load_aligned_pairs(aligned_folder, direction="sideways")
    save(str(aligned_folder / "odd.png"), np.zeros((10, 21, 3), np.uint8))
    with pytest.raises(ValueError, match=r"odd width.*odd.png \(21x10\)"):
        load_aligned_pairs(aligned_folder, image_size=16)
    with pytest.raises(UserPathError, match="aligned image folder"):
        load_aligned_pairs(tmp_path / "missing", image_size=16)


# ---------------------------------------------------------------------------------- TFDS


def _mock_examples(features, examples):
    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_generator(
            lambda: iter(examples),
            output_signature={key: tf.TensorSpec(shape, tf.uint8)
                              for key, shape in features.items()},
        )
    return as_dataset


def test_oxford_iiit_pet_trimap_is_remapped():
    rng = np.random.default_rng(0)
    examples = []
    for height, width in [(50, 70), (64, 64), (80, 40)]:
        trimap = rng.integers(1, 4, (height, width, 1)).astype(np.uint8)  # real range 1..3
        examples.append({"image": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                         "segmentation_mask": trimap})
    features = {"image": (None, None, 3), "segmentation_mask": (None, None, 1)}
    with tfds.testing.mock_data(as_dataset_fn=_mock_examples(features, examples)):
        ds = load_tfds_segmentation("oxford_iiit_pet", split="train", image_size=32,
                                    batch_size=3, shuffle=False)
        images, masks = next(iter(ds))
    assert images.shape == (3, 32, 32, 3) and masks.shape == (3, 32, 32)
    assert set(np.unique(masks.numpy())) == {0, 1, 2}
    # The 64x64 example, nearest-resized to 32, with 1 (pet) -> 1, 2 (bg) -> 0, 3 (border) -> 2.
    trimap = tf.image.resize(examples[1]["segmentation_mask"], [32, 32], "nearest").numpy()
    np.testing.assert_array_equal(masks.numpy()[1], np.array([255, 1, 0, 2])[trimap[..., 0]])
    assert OXFORD_PET_CLASS_NAMES == ("background", "pet", "border")
    assert segmentation_class_names("oxford_iiit_pet") == OXFORD_PET_CLASS_NAMES


def test_builtin_segmentation_through_mock():
    from tfgan_apps.data.builtin import SEGMENTATION_CLASS_NAMES, render_segmentation_example

    examples = []
    for index in range(4):
        image, mask = render_segmentation_example(np.random.default_rng(index), 64)
        examples.append({"image": image, "segmentation_mask": mask})
    features = {"image": (64, 64, 3), "segmentation_mask": (64, 64, 1)}
    with tfds.testing.mock_data(as_dataset_fn=_mock_examples(features, examples)):
        ds = load_tfds_segmentation("builtin", split="test", image_size=64, batch_size=4,
                                    shuffle=False)
        images, masks = next(iter(ds))
    np.testing.assert_array_equal(masks.numpy(), np.stack([e["segmentation_mask"][..., 0]
                                                           for e in examples]))
    np.testing.assert_allclose(images.numpy(),
                               to_signed_unit(np.stack([e["image"] for e in examples])), atol=1e-6)
    assert segmentation_class_names("builtin") == SEGMENTATION_CLASS_NAMES


def test_unknown_tfds_dataset():
    with pytest.raises(UserError, match="unknown segmentation dataset 'voc'"):
        load_tfds_segmentation("voc")


# ----------------------------------------------------------------------------- dispatch


def test_pix2pix_data_source_errors_name_the_arguments(pair_folders, aligned_folder):
    images, masks = pair_folders
    cases = [
        ({"dataset": "builtin", "aligned_dir": str(aligned_folder)},
         "give one data source, not dataset and aligned_dir"),
        ({"images_dir": str(images)}, "images_dir and masks_dir go together"),
        ({"images_dir": str(images), "masks_dir": str(masks)}, "num_classes is required"),
        ({"dataset": "builtin", "num_classes": 3}, r"4 classes .*not num_classes=3"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UserError, match=message) as raised:
            load_pix2pix_data(**kwargs)
        assert "--" not in str(raised.value), raised.value
