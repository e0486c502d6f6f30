"""Paired data for pix2pix: (image, segmentation mask) and aligned (A, B) image pairs.

Every loader returns a batched, prefetched ``tf.data.Dataset`` of

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

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tfgan_apps.data.pipelines import (
    decode_image,
    finalize,
    find_unreadable_images,
    list_image_files,
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


def _check_positive_int(name: str, value: Any) -> int:
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


def _finish(
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


def _resize_pair(image: tf.Tensor, mask: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
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
    image_size = _check_positive_int("image_size", image_size)
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
        return _resize_pair(image, tf.cast(mask, tf.uint8), load_size)

    ds = ds.map(prepare, num_parallel_calls=_AUTOTUNE)
    return _finish(ds, image_size=image_size, augment=augment, target_is_mask=True,
                   batch_size=batch_size, shuffle=shuffle, seed=seed, deterministic=deterministic,
                   drop_remainder=drop_remainder, cache=cache)


# ----------------------------------------------------------------------------- your folders


def read_mask_ids(path: str | os.PathLike) -> np.ndarray:
    """Reads a mask file's class ids as ``int32[H, W]``.

    Single-channel images (PNG ``L``, 16-bit ``I;16``, 1-bit) give their values; palette
    images (PNG mode ``P``) give their palette **indices**, not the colours (TensorFlow's PNG
    decoder would expand the palette to RGB); ``LA``/``PA`` drop alpha; an RGB(A) image whose
    three channels are equal is read as grayscale.

    Raises:
        ValueError: the file is not a readable image, or is an RGB image with colours (class
            ids must be stored as one channel or palette indices).
    """
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"mask {path!r} is not a readable image ({error})") from None
    if mode in ("LA", "PA"):
        array = array[..., 0]
    elif array.ndim == 3:
        if not (np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])):
            raise ValueError(
                f"mask {path!r} is a colour ({mode}) image; masks must hold class ids as a "
                "single-channel (grayscale) or palette PNG: convert each colour to its id"
            )
        array = array[..., 0]
    return array.astype(np.int32)


def _pair_key(path: str, directory: str) -> str:
    return os.path.splitext(os.path.relpath(path, directory))[0]


def _names(items: list[str], limit: int = 5) -> str:
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _check_directory(directory: str, what: str) -> str:
    directory = os.fspath(directory)
    if not tf.io.gfile.exists(directory):
        raise FileNotFoundError(f"{what} folder {directory!r} does not exist")
    if not tf.io.gfile.isdir(directory):
        raise ValueError(f"{what} {directory!r} is a file, not a folder")
    return directory


def _index_by_key(paths: list[str], directory: str, what: str) -> dict[str, str]:
    index: dict[str, str] = {}
    duplicates = []
    for path in paths:
        key = _pair_key(path, directory)
        if key in index:
            duplicates.append(f"{os.path.relpath(index[key], directory)} and "
                              f"{os.path.relpath(path, directory)}")
        index[key] = path
    if duplicates:
        raise ValueError(
            f"{what} under {directory!r} share a name with different extensions, so pairs are "
            f"ambiguous: {_names(duplicates)}; keep one file per name"
        )
    return index


def match_image_mask_pairs(
    images_dir: str | os.PathLike, masks_dir: str | os.PathLike, num_classes: int
) -> list[tuple[str, str]]:
    """Matches images to masks by file stem and validates every pair.

    A pair is ``images_dir/REL/NAME.<image ext>`` with ``masks_dir/REL/NAME.<image ext>`` (the
    path relative to each folder, without extension, must be equal; e.g. ``cat_1.jpg`` with
    ``cat_1.png``). Masks without an image are ignored with a warning.

    Returns:
        Sorted ``[(image_path, mask_path), ...]``.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: with the offending file names and the fix, when a folder holds no images,
            an image has no mask, two files share a stem, an image or mask is unreadable, a
            mask is a colour image, a mask holds an id ``>= num_classes``, or an image and its
            mask differ in size.
    """
    images_dir = _check_directory(images_dir, "images")
    masks_dir = _check_directory(masks_dir, "masks")
    num_classes = _check_positive_int("num_classes", num_classes)
    images = _index_by_key(list_image_files(images_dir), images_dir, "images")
    masks = _index_by_key(list_image_files(masks_dir), masks_dir, "masks")
    if not images:
        raise ValueError(f"no images (.png, .jpg, ...) under {images_dir!r}")
    missing = sorted(set(images) - set(masks))
    if missing:
        raise ValueError(
            f"{len(missing)} image(s) under {images_dir!r} have no mask of the same name under "
            f"{masks_dir!r}: {_names([os.path.relpath(images[k], images_dir) for k in missing])}"
            "; add their masks (same name, e.g. NAME.png) or remove the images"
        )
    orphans = sorted(set(masks) - set(images))
    if orphans:
        warnings.warn(
            f"ignored {len(orphans)} mask(s) under {masks_dir} without an image: "
            f"{_names([os.path.relpath(masks[k], masks_dir) for k in orphans])}",
            stacklevel=2,
        )
    keys = sorted(images)
    unreadable = find_unreadable_images([images[k] for k in keys])
    if unreadable:
        raise ValueError(
            f"{len(unreadable)} image(s) are not readable images: "
            f"{_names([os.path.relpath(p, images_dir) for p in unreadable])}; "
            "replace or remove them (and their masks)"
        )
    too_large, mismatched = [], []
    for key in keys:
        ids = read_mask_ids(masks[key])
        if ids.size and int(ids.max()) >= num_classes:
            too_large.append(f"{os.path.relpath(masks[key], masks_dir)} (max id {ids.max()})")
        with Image.open(images[key]) as image:
            width, height = image.size
        if ids.shape != (height, width):
            mismatched.append(
                f"{os.path.relpath(images[key], images_dir)} is {width}x{height} but "
                f"{os.path.relpath(masks[key], masks_dir)} is {ids.shape[1]}x{ids.shape[0]}"
            )
    if too_large:
        raise ValueError(
            f"{len(too_large)} mask(s) hold class ids >= num_classes={num_classes}: "
            f"{_names(too_large)}; ids must be 0..{num_classes - 1}: raise num_classes "
            "(--num-classes) or fix the masks"
        )
    if mismatched:
        raise ValueError(
            f"{len(mismatched)} image/mask pair(s) differ in size: {_names(mismatched)}; "
            "a mask must have its image's width and height"
        )
    return [(images[k], masks[k]) for k in keys]


def load_folder_pairs(
    images_dir: str | os.PathLike,
    masks_dir: str | os.PathLike,
    num_classes: int,
    *,
    image_size: int,
    batch_size: int = 16,
    augment: bool = False,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    cache: bool | str = True,
) -> tf.data.Dataset:
    """Loads your own segmentation data: images and masks in two folders, matched by name.

    Masks are single-channel or palette PNGs (any lossless single-channel image) holding class
    ids ``0..num_classes-1`` (palette PNGs: the indices; see :func:`read_mask_ids`). Everything
    is validated up front by :func:`match_image_mask_pairs`, so training never fails midway.
    Images and masks are resized so the short side is S (bilinear / nearest) and centre-cropped.

    Args:
        images_dir: folder of images (.jpg, .png, ...; nested folders allowed).
        masks_dir: folder of masks, same relative names.
        num_classes: K.
        image_size: output side S.
        batch_size, shuffle, seed, deterministic, drop_remainder: see
            :func:`tfgan_apps.data.pipelines.finalize`.
        augment: the paper's random jitter and mirroring (see the module doc).
        cache: cache the resized uint8 pairs (True: memory; a string: that file prefix).

    Returns:
        Dataset of ``(float32 [batch, S, S, 3] in [-1, 1], int32 [batch, S, S] in [0, K))``.
    """
    image_size = _check_positive_int("image_size", image_size)
    _check_positive_int("batch_size", batch_size)
    pairs = match_image_mask_pairs(images_dir, masks_dir, num_classes)
    if drop_remainder and len(pairs) < batch_size:
        raise ValueError(
            f"{len(pairs)} image/mask pairs are fewer than batch_size={batch_size}; use "
            f"batch_size <= {len(pairs)} or drop_remainder=False"
        )
    load_size = jitter_load_size(image_size) if augment else image_size
    mask_dtype = tf.uint8 if num_classes <= 256 else tf.int32

    def read_mask(path):
        return read_mask_ids(path.numpy().decode()).astype(mask_dtype.as_numpy_dtype)

    def load(image_path, mask_path):
        image = decode_image(tf.io.read_file(image_path), channels=3)
        mask = tf.py_function(read_mask, [mask_path], mask_dtype)
        mask.set_shape([None, None])
        return _resize_pair(image, mask, load_size)

    image_paths = [image for image, _ in pairs]
    mask_paths = [mask for _, mask in pairs]
    ds = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths))
    if shuffle and not cache:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=_AUTOTUNE)
    return _finish(ds, image_size=image_size, augment=augment, target_is_mask=True,
                   batch_size=batch_size, shuffle=shuffle and bool(cache), seed=seed,
                   deterministic=deterministic, drop_remainder=drop_remainder, cache=cache)


def load_aligned_pairs(
    directory: str | os.PathLike,
    *,
    direction: str = "AtoB",
    image_size: int = 256,
    batch_size: int = 1,
    augment: bool = False,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    cache: bool | str = True,
) -> tf.data.Dataset:
    """Loads side-by-side ``A|B`` images (the pix2pix datasets' format: facades, maps,
    edges2shoes) for paired translation.

    Each image's left half is A and its right half B (the width must be even). Both halves are
    resized (short side S, centre crop) and jittered identically.

    Args:
        directory: folder of the combined images (e.g. ``facades/train``).
        direction: ``"AtoB"`` (input A, target B) or ``"BtoA"``.
        image_size: output side S (256 in the paper).
        batch_size: 1 in the paper.
        augment, shuffle, seed, deterministic, drop_remainder, cache: as in
            :func:`load_folder_pairs`.

    Returns:
        Dataset of ``(inputs, targets)``, both float32 ``[batch, S, S, 3]`` in [-1, 1].

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: bad ``direction``, no images, unreadable images, or an odd width.
    """
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    image_size = _check_positive_int("image_size", image_size)
    _check_positive_int("batch_size", batch_size)
    directory = _check_directory(directory, "aligned images")
    paths = list_image_files(directory)
    if not paths:
        raise ValueError(f"no images (.png, .jpg, ...) under {directory!r}")
    unreadable = find_unreadable_images(paths)
    if unreadable:
        raise ValueError(
            f"{len(unreadable)} file(s) are not readable images: "
            f"{_names([os.path.relpath(p, directory) for p in unreadable])}; replace or remove "
            "them"
        )
    odd = []
    for path in paths:
        with Image.open(path) as image:
            if image.size[0] % 2:
                odd.append(f"{os.path.relpath(path, directory)} ({image.size[0]}x{image.size[1]})")
    if odd:
        raise ValueError(
            f"{len(odd)} image(s) have an odd width, so they are not side-by-side A|B pairs: "
            f"{_names(odd)}; each file must hold A and B, of equal size, next to each other"
        )
    if drop_remainder and len(paths) < batch_size:
        raise ValueError(
            f"{len(paths)} images are fewer than batch_size={batch_size}; use batch_size <= "
            f"{len(paths)} or drop_remainder=False"
        )
    load_size = jitter_load_size(image_size) if augment else image_size

    def load(path):
        combined = decode_image(tf.io.read_file(path), channels=3)
        half = tf.shape(combined)[1] // 2
        a = resize_and_center_crop(combined[:, :half], load_size)
        b = resize_and_center_crop(combined[:, half:], load_size)
        return (a, b) if direction == "AtoB" else (b, a)

    ds = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle and not cache:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=_AUTOTUNE)
    return _finish(ds, image_size=image_size, augment=augment, target_is_mask=False,
                   batch_size=batch_size, shuffle=shuffle and bool(cache), seed=seed,
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
        batch_size, seed, deterministic: as in :func:`load_folder_pairs`.

    Returns:
        ``(train, validation or None, info)``; train batches are shuffled, augmented and of
        fixed size; validation batches are in order, un-augmented, the last one partial.

    Raises:
        ValueError: no or several sources, ``images_dir`` without ``masks_dir`` (or the
            reverse), missing ``num_classes`` for folders, or a ``num_classes`` that contradicts
            the dataset's.
    """
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
