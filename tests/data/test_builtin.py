"""Tests of the offline TFDS dataset ``tfgan_shapes`` and its numpy renderers."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfgan_apps.data.builtin import (
    SEGMENTATION_CLASS_NAMES,
    SHAPE_KINDS,
    TfganShapes,
    TfganShapesConfig,
    render_example,
    render_generation_example,
    render_segmentation_example,
    render_style_example,
    style_a_to_b,
    style_b_to_a,
)

tfds.disable_progress_bar()

REGISTERED = {  # name: (app, image_size, num_train, num_test)
    "generation": ("generation", 32, 10000, 1000),
    "generation_64": ("generation", 64, 5000, 500),
    "generation_128": ("generation", 128, 2000, 200),
    "style": ("style", 64, 2000, 200),
    "style_128": ("style", 128, 1000, 100),
    "segmentation": ("segmentation", 64, 10000, 1000),
    "segmentation_128": ("segmentation", 128, 1000, 100),
}
FEATURES = {  # app: {feature: channels of its uint8 [S, S, C] image, None for a scalar}
    "generation": {"image": 3, "label": None},
    "style": {"image_a": 3, "image_b": 3, "image_a_in_b": 3},
    "segmentation": {"image": 3, "segmentation_mask": 1},
}
# Tiny, unregistered configs: the builder accepts any TfganShapesConfig.
TINY = {
    "generation": TfganShapesConfig(
        name="tiny_generation", app="generation", image_size=32, num_train=8, num_test=3
    ),
    "style": TfganShapesConfig(
        name="tiny_style", app="style", image_size=32, num_train=5, num_test=2
    ),
    "segmentation": TfganShapesConfig(
        name="tiny_segmentation", app="segmentation", image_size=64, num_train=6, num_test=2
    ),
}
# sha256 (first 16 hex digits) of render_example(TINY[app], "train", 1), features in key order.
PINNED_DIGESTS = {
    "generation": "253e6cd1acc1cadc",
    "style": "7fe249e0d2d611d9",
    "segmentation": "cfd4444290ef320f",
}


def _rng(index: int) -> np.random.Generator:
    return np.random.default_rng([7, 0, index])


def _prepare(config: TfganShapesConfig, data_dir) -> dict[str, list[dict]]:
    builder = TfganShapes(config=config, data_dir=str(data_dir))
    builder.download_and_prepare()
    return {
        split: list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        for split in ("train", "test")
    }


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> dict[str, dict[str, list[dict]]]:
    data_dir = tmp_path_factory.mktemp("tfds")
    return {app: _prepare(config, data_dir) for app, config in TINY.items()}


# --- registration and metadata --------------------------------------------------------------------
def test_registered_configs_and_features(tmp_path):
    assert tfds.builder("tfgan_shapes", data_dir=str(tmp_path)).builder_config.name == "generation"
    for name, (app, size, num_train, num_test) in REGISTERED.items():
        builder = tfds.builder(f"tfgan_shapes/{name}", data_dir=str(tmp_path))
        config = builder.builder_config
        assert isinstance(builder, TfganShapes)
        assert (config.app, config.image_size, config.num_train, config.num_test) == (
            app,
            size,
            num_train,
            num_test,
        )
        assert str(builder.info.version) == "1.1.0"
        assert "1.1.0" in TfganShapes.RELEASE_NOTES
        features = builder.info.features
        assert set(features.keys()) == set(FEATURES[app])
        for key, channels in FEATURES[app].items():
            if channels is not None:
                assert features[key].shape == (size, size, channels)
                assert features[key].np_dtype == np.uint8
        if app == "generation":
            assert features["label"].names == list(SHAPE_KINDS)
        if app == "segmentation":
            assert builder.info.metadata["class_names"] == list(SEGMENTATION_CLASS_NAMES)


def test_invalid_config_and_index_raise():
    with pytest.raises(ValueError, match="app"):
        TfganShapesConfig(name="x", app="video")
    with pytest.raises(ValueError, match="image_size"):
        TfganShapesConfig(name="x", image_size=8)
    with pytest.raises(ValueError, match="num_train"):
        TfganShapesConfig(name="x", num_train=0)
    with pytest.raises(ValueError, match="index"):
        render_example(TINY["generation"], "test", 3)
    with pytest.raises(ValueError, match="split"):
        render_example(TINY["generation"], "validation", 0)


# --- prepared datasets --------------------------------------------------------------------------
@pytest.mark.parametrize("app", list(TINY))
def test_prepared_splits_shapes_dtypes_match_renderer(prepared, app):
    config = TINY[app]
    size = config.image_size
    for split, count in (("train", config.num_train), ("test", config.num_test)):
        examples = prepared[app][split]
        assert len(examples) == count
        for index, example in enumerate(examples):
            assert set(example) == set(FEATURES[app])
            for key, channels in FEATURES[app].items():
                if channels is not None:
                    assert example[key].shape == (size, size, channels)
                    assert example[key].dtype == np.uint8
            expected = render_example(config, split, index)  # stored in key (= index) order
            for key, value in expected.items():
                np.testing.assert_array_equal(example[key], value)


def test_preparation_is_deterministic(prepared, tmp_path):
    again = _prepare(TINY["segmentation"], tmp_path)
    for split in ("train", "test"):
        for first, second in zip(prepared["segmentation"][split], again[split], strict=True):
            for key in first:
                np.testing.assert_array_equal(first[key], second[key])


def test_renderers_are_deterministic_and_pinned():
    # The digests pin the exact pixels: a change here changes the dataset and needs a new VERSION.
    digests = {}
    for app, config in TINY.items():
        first = render_example(config, "train", 1)
        second = render_example(config, "train", 1)
        digest = hashlib.sha256()
        for key in sorted(first):
            np.testing.assert_array_equal(first[key], second[key])
            digest.update(np.ascontiguousarray(first[key]).tobytes())
        digests[app] = digest.hexdigest()[:16]
    assert digests == PINNED_DIGESTS


def test_train_and_test_splits_differ():
    config = TINY["generation"]
    train = render_example(config, "train", 0)["image"]
    test = render_example(config, "test", 0)["image"]
    assert not np.array_equal(train, test)


# --- generation ------------------------------------------------------------------------------
def test_generation_images_are_structured_with_several_labels():
    examples = [render_generation_example(_rng(i), 32) for i in range(48)]
    labels = [label for _, label in examples]
    assert len(set(labels)) >= 4
    assert all(0 <= label < len(SHAPE_KINDS) for label in labels)
    for image, _ in examples:
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        # Objects contrast with the (median) background colour: not constant, not faint.
        pixels = image.reshape(-1, 3).astype(np.float64)
        assert np.linalg.norm(pixels - np.median(pixels, axis=0), axis=1).max() > 80


# --- style ---------------------------------------------------------------------------------------
def test_style_mapping_is_an_exact_bijection():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(np.sort(style_a_to_b(values)), values)  # a permutation of uint8
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(style_b_to_a(style_a_to_b(images)), images)
    np.testing.assert_array_equal(style_a_to_b(style_b_to_a(images)), images)
    with pytest.raises(ValueError, match="uint8"):
        style_a_to_b(images.astype(np.float32))


def test_style_examples_truth_and_difference():
    psnrs = []
    for i in range(8):
        example = render_style_example(_rng(i), 64)
        image_a, image_b = example["image_a"], example["image_b"]
        np.testing.assert_array_equal(example["image_a_in_b"], style_a_to_b(image_a))
        np.testing.assert_array_equal(style_b_to_a(example["image_a_in_b"]), image_a)
        assert not np.array_equal(image_b, example["image_a_in_b"])  # unpaired scenes
        diff = np.abs(image_a.astype(np.float64) - example["image_a_in_b"])
        assert diff.mean() > 100
        psnrs.append(10 * np.log10(255.0**2 / np.mean(diff**2)))
        # Day / night: A is light, B is dark.
        assert image_a.mean() > 140 and image_b.mean() < 115
    assert max(psnrs) < 10  # identity is a poor translation: low PSNR to the truth


# --- segmentation ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def segmentation_batch() -> tuple[np.ndarray, np.ndarray]:
    examples = [render_segmentation_example(_rng(i), 64) for i in range(32)]
    return np.stack([image for image, _ in examples]), np.stack([mask for _, mask in examples])


def test_segmentation_classes_and_ranges(segmentation_batch):
    images, masks = segmentation_batch
    assert images.shape == (32, 64, 64, 3) and images.dtype == np.uint8
    assert masks.shape == (32, 64, 64, 1) and masks.dtype == np.uint8
    assert len(SEGMENTATION_CLASS_NAMES) >= 4
    assert masks.max() < len(SEGMENTATION_CLASS_NAMES)
    counts = np.bincount(masks.ravel(), minlength=len(SEGMENTATION_CLASS_NAMES))
    assert np.all(counts > 0.03 * masks.size)  # every class appears, none is negligible
    assert all(np.any(mask > 0) for mask in masks)  # at least one object per image


def test_segmentation_colour_does_not_determine_class(segmentation_batch):
    images, masks = segmentation_batch
    pixels = images.reshape(-1, 3).astype(np.float64)
    labels = masks.ravel()
    num_classes = len(SEGMENTATION_CLASS_NAMES)
    centroids = np.stack([pixels[labels == c].mean(0) for c in range(num_classes)])
    predicted = np.argmin(((pixels[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    recall = [np.mean(predicted[labels == c] == c) for c in range(num_classes)]
    assert np.mean(recall) < 0.5  # chance is 0.25, perfect would be 1


def test_segmentation_mask_aligned_with_image(segmentation_batch):
    images, masks = segmentation_batch
    images = images.astype(np.float64)
    masks = masks[..., 0]

    def boundary_contrast(mask):
        # Mean colour step between horizontally adjacent pixels whose labels differ.
        step = np.abs(np.diff(images, axis=2)).sum(-1)
        return step[np.diff(mask.astype(np.int16), axis=2) != 0].mean()

    aligned = boundary_contrast(masks)
    shifted = boundary_contrast(np.roll(masks, 2, axis=2))
    assert aligned > 2 * shifted
    # Object pixels differ from the background around them.
    for image, mask in zip(images, masks, strict=True):
        objects, background = image[mask > 0].mean(0), image[mask == 0].mean(0)
        assert np.abs(objects - background).sum() > 20


def test_tfds_load_with_supervised_keys(tmp_path):
    config = TINY["segmentation"]
    dataset = tfds.load(
        "tfgan_shapes",
        split="train",
        data_dir=str(tmp_path),
        builder_kwargs={"config": config},
        as_supervised=True,
        shuffle_files=False,
    )
    image, mask = next(iter(tfds.as_numpy(dataset)))
    expected = render_example(config, "train", 0)
    np.testing.assert_array_equal(image, expected["image"])
    np.testing.assert_array_equal(mask, expected["segmentation_mask"])


@pytest.mark.slow
def test_tfds_load_registered_config_by_name():
    # The session's TFDS_DATA_DIR (conftest), so the 11k-example preparation is shared.
    dataset = tfds.load("tfgan_shapes/segmentation", split="test")
    example = next(iter(tfds.as_numpy(dataset)))
    expected = render_example(TfganShapes.builder_configs["segmentation"], "test", 0)
    np.testing.assert_array_equal(example["image"], expected["image"])
    np.testing.assert_array_equal(example["segmentation_mask"], expected["segmentation_mask"])
