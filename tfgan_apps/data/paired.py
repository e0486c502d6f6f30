"""Paired data for pix2pix: (image, segmentation mask) and aligned (A, B) image pairs.

This module holds the shared augmentation and batch tail, the TFDS source and
:func:`load_pix2pix_data` (one source from the CLI's flags);
:mod:`tfgan_apps.data.paired_folders` reads your own folders. Every loader returns a
batched, prefetched ``tf.data.Dataset`` of

- segmentation: ``(images, masks)``: float32 ``[batch, S, S, 3]`` in [-1, 1] and int32
  ``[batch, S, S]`` class ids in ``[0, K)``;
- translation: ``(inputs, targets)``: both float32 ``[batch, S, S, 3]`` in [-1, 1].

Augmentation (``augment=True``, for training) is the paper's (Isola et al. 2017, 6.2: "random
jitter was applied by resizing the 256x256 input images to 286x286 and then randomly cropping
back to size 256x256", plus mirroring): each pair is loaded at ``int(1.12 * S)`` (bilinear for
images, nearest neighbour for masks so no class id is invented), then the *same* random
``S x S`` crop and the *same* random horizontal flip are applied to both members, as one gather
with shared indices. The random draws come from ``tf.data.Dataset.random(seed)``, re-drawn every
epoch, so with ``deterministic=True`` a seed gives the same batches on every run.

Mask conventions:

- ``oxford_iiit_pet``: the trimap's 1 (pet), 2 (background), 3 (border / not classified) become
  **0 = background, 1 = pet, 2 = border**, so that class 0 is the background as in the built-in
  set (:data:`OXFORD_PET_CLASS_NAMES`).
- ``tfgan_shapes/segmentation``: 0 background, 1 disc, 2 square, 3 triangle, as stored.
- your own masks: the PNG's values (or, for palette PNGs, the palette *indices*) are the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfgan_apps.data.pipelines import (
    finalize,
    resize_and_center_crop,
    to_signed_unit,
)

#: Load size / crop size of the paper's random jitter (286 / 256).
JITTER_SCALE = 1.12

OXFORD_PET_CLASS_NAMES: tuple[str, ...] = ("background", "pet", "border")
"""Class ids of ``oxford_iiit_pet`` masks after remapping (trimap 2 -> 0, 1 -> 1, 3 -> 2)."""

# Trimap value -> class id; values that do not occur in the dataset map to "border".
_OXFORD_TRIMAP_TO_CLASS = np.full(256, 2, np.uint8)
_OXFORD_TRIMAP_TO_CLASS[[1, 2, 3]] = [1, 0, 2]

_BUILTIN_ALIASES = ("builtin", "tfgan_shapes")
_AUTOTUNE = tf.data.AUTOTUNE


def check_positive_int(name: str, value: Any) -> int:
    """``value`` if it is a positive int (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def jitter_load_size(image_size: int) -> int:
    """Side at which pairs are loaded before the random crop: ``int(1.12 * S)`` (256 -> 286)."""
    return int(image_size * JITTER_SCALE)


# ------------------------------------------------------------------------ shared batch tail


def random_crop_and_flip(
    inputs: tf.Tensor, targets: tf.Tensor, image_size: int, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """The same random ``S x S`` crop and horizontal flip for each input and its target.

    Args:
        inputs: ``[batch, L, L, C]`` images (any dtype), ``L >= S``.
        targets: ``[batch, L, L]`` masks or ``[batch, L, L, C']`` images, same L.
        image_size: S.
        seed: int64 scalar; with it the crops and flips are a pure function of the batch.

    Returns:
        ``(inputs, targets)`` cropped to ``S x S``; example ``b`` of both is cut at the same
        offset and flipped (or not) together: pixel ``(i, j)`` of both comes from the same
        source pixel.
    """
    batch = tf.shape(inputs)[0]
    load = tf.shape(inputs)[1]
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0x5A17, tf.int64)])
    offsets = tf.random.stateless_uniform([batch, 2], seed, minval=0, maxval=load - image_size + 1,
                                          dtype=tf.int32)
    flips = tf.random.stateless_uniform([batch, 1], seed + [0, 1], minval=0, maxval=2,
                                        dtype=tf.int32)
    steps = tf.range(image_size)
    rows = offsets[:, :1] + steps[None]  # [batch, S]
    cols = offsets[:, 1:] + steps[None]
    # A horizontal flip of the crop is the crop read with reversed column indices.
    cols = tf.where(flips == 1, tf.reverse(cols, axis=[1]), cols)

    def crop(x):
        x = tf.gather(x, rows, axis=1, batch_dims=1)
        return tf.gather(x, cols, axis=2, batch_dims=1)

    return crop(inputs), crop(targets)


def finish_pairs(
    ds: tf.data.Dataset,
    *,
    image_size: int,
    augment: bool,
    target_is_mask: bool,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    deterministic: bool,
    drop_remainder: bool,
    cache: bool | str,
) -> tf.data.Dataset:
    """``(uint8 input [L, L, C], uint8 target)`` elements -> augmented, converted batches."""
    if augment and deterministic and seed is None:
        raise ValueError("deterministic=True needs an integer seed for the augmentation, got None")
    # Unshuffled data (validation, sample grids) always comes in order: fixed examples.
    deterministic = deterministic or not shuffle
    ds = finalize(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                  deterministic=deterministic, drop_remainder=drop_remainder, cache=cache)
    if augment:
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms)).map(
            lambda pair, r: random_crop_and_flip(pair[0], pair[1], image_size, r),
            num_parallel_calls=_AUTOTUNE)

    def convert(inputs, targets):
        targets = tf.cast(targets, tf.int32) if target_is_mask else to_signed_unit(targets)
        return to_signed_unit(inputs), targets

    return ds.map(convert, num_parallel_calls=_AUTOTUNE).prefetch(_AUTOTUNE)


def resize_pair(image: tf.Tensor, mask: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Image ``[H, W, 3]`` and mask ``[H, W]`` -> ``[size, size, 3]``, ``[size, size]`` with one
    geometry (short side to ``size``, centre crop): bilinear for the image, nearest for the
    mask."""
    image = resize_and_center_crop(image, size)
    mask = resize_and_center_crop(mask[..., None], size, method="nearest")[..., 0]
    return image, mask


# ----------------------------------------------------------------------------- TFDS


def _resolve_segmentation_name(name: str, image_size: int) -> str:
    key = name.strip().lower()
    if key in _BUILTIN_ALIASES:
        key = "tfgan_shapes/segmentation" if image_size <= 64 else "tfgan_shapes/segmentation_128"
    if key.startswith("tfgan_shapes"):
        import tfgan_apps.data.builtin  # noqa: F401  registers tfgan_shapes
    return key


def segmentation_class_names(name: str) -> tuple[str, ...]:
    """Class names, by id, of a dataset accepted by :func:`load_tfds_segmentation`."""
    key = _resolve_segmentation_name(name, 64).split(":")[0]
    if key.startswith("oxford_iiit_pet"):
        return OXFORD_PET_CLASS_NAMES
    if key.startswith("tfgan_shapes/segmentation"):
        from tfgan_apps.data.builtin import SEGMENTATION_CLASS_NAMES

        return tuple(SEGMENTATION_CLASS_NAMES)
    raise ValueError(
        f"unknown segmentation dataset {name!r}; use 'builtin' (tfgan_shapes/segmentation) or "
        "'oxford_iiit_pet', or your own folders with load_folder_pairs"
    )


def load_tfds_segmentation(
    name: str = "builtin",
    *,
    split: str = "train",
    image_size: int = 64,
    batch_size: int = 16,
    augment: bool = False,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    data_dir: str | None = None,
    cache: bool = True,
) -> tf.data.Dataset:
    """Loads a TFDS segmentation dataset as ``(images, masks)`` batches.

    Supported: ``"builtin"`` (alias of ``tfgan_shapes/segmentation``, 64x64, 4 classes; its
    ``segmentation_128`` config when ``image_size > 64``), ``"tfgan_shapes/segmentation"``,
    ``"tfgan_shapes/segmentation_128"`` and ``"oxford_iiit_pet"`` (3 classes: 0 background,
    1 pet, 2 border; images of any size, resized so the short side is S and centre-cropped).
    :func:`segmentation_class_names` gives the names.

    Args:
        name: dataset name as above.
        split: TFDS split (``"train"``, ``"test"``, ``"train[:10%]"``...).
        image_size: output side S.
        batch_size, shuffle, seed, deterministic, drop_remainder: see
            :func:`tfgan_apps.data.pipelines.finalize`; with ``shuffle=False`` the examples
            always come in the dataset's order.
        augment: the paper's random jitter and mirroring (for training; see the module doc).
        data_dir: TFDS data directory.
        cache: cache the resized uint8 pairs in memory.

    Returns:
        Dataset of ``(float32 [batch, S, S, 3] in [-1, 1], int32 [batch, S, S] in [0, K))``.
    """
    image_size = check_positive_int("image_size", image_size)
    key = _resolve_segmentation_name(name, image_size)
    base = key.split(":")[0]
    if base.startswith("oxford_iiit_pet"):
        def to_classes(mask):
            return tf.gather(tf.constant(_OXFORD_TRIMAP_TO_CLASS), tf.cast(mask, tf.int32))
    elif base.startswith("tfgan_shapes/segmentation"):
        def to_classes(mask):
            return mask
    else:
        segmentation_class_names(name)  # raises the unknown-dataset error
    builder = tfds.builder(key, data_dir=data_dir)
    builder.download_and_prepare()
    ds = builder.as_dataset(
        split=split,
        shuffle_files=shuffle and not builder.info.disable_shuffling,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )
    load_size = jitter_load_size(image_size) if augment else image_size

    def prepare(example):
        image = example["image"]
        mask = to_classes(example["segmentation_mask"][..., 0])
        return resize_pair(image, tf.cast(mask, tf.uint8), load_size)

    ds = ds.map(prepare, num_parallel_calls=_AUTOTUNE)
    return finish_pairs(ds, image_size=image_size, augment=augment, target_is_mask=True,
                        batch_size=batch_size, shuffle=shuffle, seed=seed,
                        deterministic=deterministic, drop_remainder=drop_remainder, cache=cache)


# ----------------------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class PairedDataInfo:
    """What :func:`load_pix2pix_data` resolved: the mode, S and, for segmentation, the classes."""

    mode: str
    image_size: int
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None


#: Default side S per source (the built-in set's native 64; the paper's 256 for your folders).
DEFAULT_IMAGE_SIZES = {"builtin": 64, "oxford_iiit_pet": 128, "folders": 256}


def load_pix2pix_data(
    *,
    dataset: str | None = None,
    images_dir: str | None = None,
    masks_dir: str | None = None,
    aligned_dir: str | None = None,
    num_classes: int | None = None,
    direction: str = "AtoB",
    image_size: int | None = None,
    batch_size: int = 16,
    augment: bool = True,
    seed: int = 0,
    deterministic: bool = False,
) -> tuple[tf.data.Dataset, tf.data.Dataset | None, PairedDataInfo]:
    """The training and validation data of ``tfgan-apps train pix2pix``, from one source.

    Sources (exactly one): a TFDS ``dataset`` (default ``"builtin"``; validation = its
    ``test`` split), ``images_dir`` + ``masks_dir`` with ``num_classes`` (no validation split),
    or ``aligned_dir`` (translation, ``direction``; no validation split).

    Args:
        image_size: S; default 64 (builtin), 128 (oxford_iiit_pet), 256 (folders).
        augment: random jitter and mirroring of the training data.
        batch_size, seed, deterministic: as in
            :func:`~tfgan_apps.data.paired_folders.load_folder_pairs`.

    Returns:
        ``(train, validation or None, info)``; train batches are shuffled, augmented and of
        fixed size; validation batches are in order, un-augmented, the last one partial.

    Raises:
        ValueError: no or several sources, ``images_dir`` without ``masks_dir`` (or the
            reverse), missing ``num_classes`` for folders, or a ``num_classes`` that contradicts
            the dataset's.
    """
    # Imported here: paired_folders builds on this module's batch tail.
    from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs

    given = [name for name, value in (("a dataset", dataset), ("--images/--masks", images_dir
             or masks_dir), ("--aligned-dir", aligned_dir)) if value]
    if len(given) > 1:
        raise ValueError(f"give one data source, not {' and '.join(given)}")
    common = {"batch_size": batch_size, "seed": seed, "deterministic": deterministic}
    if images_dir or masks_dir:
        if not (images_dir and masks_dir):
            raise ValueError("--images and --masks go together: pass the folder of images and "
                             "the folder of their masks")
        if num_classes is None:
            raise ValueError("--num-classes is required with --images/--masks (masks hold ids "
                             "0..K-1)")
        size = image_size or DEFAULT_IMAGE_SIZES["folders"]
        train = load_folder_pairs(images_dir, masks_dir, num_classes, image_size=size,
                                  augment=augment, **common)
        names = tuple(f"class_{k}" for k in range(num_classes))
        return train, None, PairedDataInfo("segmentation", size, num_classes, names)
    if aligned_dir:
        size = image_size or DEFAULT_IMAGE_SIZES["folders"]
        train = load_aligned_pairs(aligned_dir, direction=direction, image_size=size,
                                   augment=augment, **common)
        return train, None, PairedDataInfo("translation", size)
    name = dataset or "builtin"
    names = segmentation_class_names(name)
    if num_classes is not None and num_classes != len(names):
        raise ValueError(f"{name} has {len(names)} classes {names}, not --num-classes "
                         f"{num_classes}; omit --num-classes")
    key = "oxford_iiit_pet" if name.startswith("oxford_iiit_pet") else "builtin"
    size = image_size or DEFAULT_IMAGE_SIZES[key]
    train = load_tfds_segmentation(name, split="train", image_size=size, augment=augment,
                                   shuffle=True, **common)
    validation = load_tfds_segmentation(name, split="test", image_size=size, augment=False,
                                        shuffle=False, drop_remainder=False, **common)
    return train, validation, PairedDataInfo("segmentation", size, len(names), names)
