"""Paired data for pix2pix: (image, segmentation mask) and aligned (A, B) image pairs.

This module holds the TFDS source and :func:`load_pix2pix_data` (one source of the three);
:mod:`tfgan_apps.data.paired_folders` reads your own folders, and both end in
:func:`tfgan_apps.data.paired_batches.finish_pairs`. Every loader returns a batched, prefetched
``tf.data.Dataset`` of

- segmentation: ``(images, masks)``: float32 ``[batch, S, S, 3]`` in [-1, 1] and int32
  ``[batch, S, S]`` class ids in ``[0, K)``;
- translation: ``(inputs, targets)``: both float32 ``[batch, S, S, 3]`` in [-1, 1].

Augmentation (``augment=True``, for training) is the paper's (Isola et al. 2017, 6.2: "random
jitter was applied by resizing the 256x256 input images to 286x286 and then randomly cropping
back to size 256x256", plus mirroring): each pair is loaded at
:func:`~tfgan_apps.data.jitter.jitter_load_size` (``round(S * 286 / 256)``; bilinear for images,
nearest neighbour for masks so no class id is invented), then the *same* random ``S x S`` crop
and the *same* random horizontal flip are applied to both members, as one gather with shared
indices. The random draws come from ``tf.data.Dataset.random(seed)``, re-drawn every epoch, so
with ``deterministic=True`` a seed gives the same batches on every run.

Mask conventions:

- ``oxford_iiit_pet``: the trimap's 1 (pet), 2 (background), 3 (border / not classified) become
  **0 = background, 1 = pet, 2 = border**, so that class 0 is the background as in the built-in
  set (:data:`OXFORD_PET_CLASS_NAMES`).
- ``tfgan_shapes/segmentation``: 0 background, 1 disc, 2 square, 3 triangle, as stored.
- your own masks: the PNG's values (or, for palette PNGs, the palette *indices*) are the ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfgan_apps.data.builtin import TfganShapes  # noqa: F401  (its import registers tfgan_shapes)
from tfgan_apps.data.checks import check_positive_int
from tfgan_apps.data.jitter import jitter_load_size
from tfgan_apps.data.paired_batches import finish_pairs, resize_pair
from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs
from tfgan_apps.data.pipelines import read_tfds_split
from tfgan_apps.data.shapes import SEGMENTATION_CLASS_NAMES
from tfgan_apps.errors import UserError

OXFORD_PET_CLASS_NAMES: tuple[str, ...] = ("background", "pet", "border")
"""Class ids of ``oxford_iiit_pet`` masks after remapping (trimap 2 -> 0, 1 -> 1, 3 -> 2)."""

# Trimap value -> class id; values that do not occur in the dataset map to "border".
_OXFORD_TRIMAP_TO_CLASS = np.full(256, 2, np.uint8)
_OXFORD_TRIMAP_TO_CLASS[[1, 2, 3]] = [1, 0, 2]

_BUILTIN_ALIASES = ("builtin", "tfgan_shapes")
_AUTOTUNE = tf.data.AUTOTUNE


# ----------------------------------------------------------------------------- TFDS


def _resolve_segmentation_name(name: str, image_size: int) -> str:
    key = name.strip().lower()
    if key in _BUILTIN_ALIASES:
        key = "tfgan_shapes/segmentation" if image_size <= 64 else "tfgan_shapes/segmentation_128"
    return key


def segmentation_class_names(name: str) -> tuple[str, ...]:
    """Class names, by id, of a dataset accepted by :func:`load_tfds_segmentation`.

    Raises:
        UserError: `name` is not a supported segmentation dataset.
    """
    key = _resolve_segmentation_name(name, 64).split(":")[0]
    if key.startswith("oxford_iiit_pet"):
        return OXFORD_PET_CLASS_NAMES
    if key.startswith("tfgan_shapes/segmentation"):
        return tuple(SEGMENTATION_CLASS_NAMES)
    raise UserError(
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

    Raises:
        UserError: unknown `name`, or a bad size, batch size or seed.
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
    ds = read_tfds_split(key, split, shuffle=shuffle, seed=seed, data_dir=data_dir)
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
        UserError: several sources, ``images_dir`` without ``masks_dir`` (or the reverse),
            missing ``num_classes`` for folders, a ``num_classes`` that contradicts the
            dataset's, or any error of the loader of the source.
    """
    given = [name for name, value in (("dataset", dataset), ("images_dir/masks_dir", images_dir
             or masks_dir), ("aligned_dir", aligned_dir)) if value]
    if len(given) > 1:
        raise UserError(f"give one data source, not {' and '.join(given)}")
    common = {"batch_size": batch_size, "seed": seed, "deterministic": deterministic}
    if images_dir or masks_dir:
        if not (images_dir and masks_dir):
            raise UserError("images_dir and masks_dir go together: pass the folder of images "
                            "and the folder of their masks")
        if num_classes is None:
            raise UserError("num_classes is required with images_dir/masks_dir (the masks hold "
                            "class ids 0..K-1)")
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
        raise UserError(f"{name} has {len(names)} classes {names}, not num_classes="
                        f"{num_classes}; omit num_classes")
    key = "oxford_iiit_pet" if name.startswith("oxford_iiit_pet") else "builtin"
    size = image_size or DEFAULT_IMAGE_SIZES[key]
    train = load_tfds_segmentation(name, split="train", image_size=size, augment=augment,
                                   shuffle=True, **common)
    validation = load_tfds_segmentation(name, split="test", image_size=size, augment=False,
                                        shuffle=False, drop_remainder=False, **common)
    return train, validation, PairedDataInfo("segmentation", size, len(names), names)
