"""Your own pix2pix pairs: image and mask folders, and aligned side-by-side A|B images.

Built on :mod:`tfgan_apps.data.paired_batches` (the same augmentation, batch tail and element
format as the TFDS source of :mod:`tfgan_apps.data.paired`).
Every file is checked before training starts: an image without a mask (or the reverse), a
mask whose ids reach ``num_classes``, a size mismatch or an unreadable file is reported with
its name and how to fix it.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import tensorflow as tf
from PIL import Image

from tfgan_apps.data.checks import check_batch_fits, check_positive_int, name_list
from tfgan_apps.data.files import (
    check_folder,
    decode_image,
    find_unreadable_images,
    list_folder_images,
    list_image_files,
    relative_names,
)
from tfgan_apps.data.jitter import jitter_load_size
from tfgan_apps.data.paired_batches import finish_pairs, resize_pair
from tfgan_apps.data.pipelines import resize_and_center_crop
from tfgan_apps.errors import UserError

_AUTOTUNE = tf.data.AUTOTUNE


def read_mask_ids(path: str | os.PathLike) -> np.ndarray:
    """Reads a mask file's class ids as ``int32[H, W]``.

    Single-channel images (PNG ``L``, 16-bit ``I;16``, 1-bit) give their values; palette
    images (PNG mode ``P``) give their palette **indices**, not the colours (TensorFlow's PNG
    decoder would expand the palette to RGB); ``LA``/``PA`` drop alpha; an RGB(A) image whose
    three channels are equal is read as grayscale.

    Raises:
        UserError: the file is not a readable image, or is an RGB image with colours (class
            ids must be stored as one channel or palette indices).
    """
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise UserError(f"mask {path!r} is not a readable image ({error})") from None
    if mode in ("LA", "PA"):
        array = array[..., 0]
    elif array.ndim == 3:
        if not (np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])):
            raise UserError(
                f"mask {path!r} is a colour ({mode}) image; masks must hold class ids as a "
                "single-channel (grayscale) or palette PNG: convert each colour to its id"
            )
        array = array[..., 0]
    return array.astype(np.int32)


def _pair_key(path: str, directory: str) -> str:
    return os.path.splitext(os.path.relpath(path, directory))[0]


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
        raise UserError(
            f"{what} under {directory!r} share a name with different extensions, so pairs are "
            f"ambiguous: {name_list(duplicates)}; keep one file per name"
        )
    return index


def match_image_mask_pairs(
    images_dir: str | os.PathLike, masks_dir: str | os.PathLike, num_classes: int
) -> list[tuple[str, str]]:
    """Matches images to masks by file stem and validates every pair.

    A pair is ``images_dir/REL/NAME.<image ext>`` with ``masks_dir/REL/NAME.<image ext>`` (the
    path relative to each folder, without extension, must be equal; e.g. ``cat_1.jpg`` with
    ``cat_1.png``). Masks without an image are ignored with a warning. Symbolic links are
    followed, each folder once; broken or looping links are skipped with a warning
    (:func:`~tfgan_apps.data.files.list_image_files`), so an image whose mask is a broken link
    has no mask.

    Returns:
        Sorted ``[(image_path, mask_path), ...]``.

    Raises:
        UserPathError: a folder does not exist, or is a file.
        UserError: with the offending file names and the fix, when a folder holds no images,
            an image has no mask, two files share a stem, an image or mask is unreadable, a
            mask is a colour image, a mask holds an id ``>= num_classes``, or an image and its
            mask differ in size.
    """
    images_dir = check_folder(images_dir, "image folder")
    masks_dir = check_folder(masks_dir, "mask folder")
    num_classes = check_positive_int("num_classes", num_classes)
    images = _index_by_key(list_folder_images(images_dir), images_dir, "images")
    masks = _index_by_key(list_image_files(masks_dir), masks_dir, "masks")
    missing = sorted(set(images) - set(masks))
    if missing:
        raise UserError(
            f"{len(missing)} image(s) under {images_dir!r} have no mask of the same name under "
            f"{masks_dir!r}: {relative_names([images[k] for k in missing], images_dir)}; add "
            "their masks (same name, e.g. NAME.png) or remove the images"
        )
    orphans = sorted(set(masks) - set(images))
    if orphans:
        warnings.warn(
            f"ignored {len(orphans)} mask(s) under {masks_dir} without an image: "
            f"{relative_names([masks[k] for k in orphans], masks_dir)}",
            stacklevel=2,
        )
    keys = sorted(images)
    unreadable = find_unreadable_images([images[k] for k in keys])
    if unreadable:
        raise UserError(
            f"{len(unreadable)} image(s) are not readable images: "
            f"{relative_names(unreadable, images_dir)}; "
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
        raise UserError(
            f"{len(too_large)} mask(s) hold class ids >= num_classes={num_classes}: "
            f"{name_list(too_large)}; ids must be 0..{num_classes - 1}: raise num_classes "
            "or fix the masks"
        )
    if mismatched:
        raise UserError(
            f"{len(mismatched)} image/mask pair(s) differ in size: {name_list(mismatched)}; "
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

    Raises:
        UserPathError, UserError: as :func:`match_image_mask_pairs`; also a bad size or batch
            size, fewer pairs than `batch_size` with `drop_remainder`, or `augment` and
            `deterministic` without a `seed`.
    """
    image_size = check_positive_int("image_size", image_size)
    check_positive_int("batch_size", batch_size)
    pairs = match_image_mask_pairs(images_dir, masks_dir, num_classes)
    check_batch_fits(len(pairs), batch_size, drop_remainder=drop_remainder,
                     where=repr(os.fspath(images_dir)), items="image/mask pairs")
    load_size = jitter_load_size(image_size) if augment else image_size
    mask_dtype = tf.uint8 if num_classes <= 256 else tf.int32

    def read_mask(path):
        return read_mask_ids(path.numpy().decode()).astype(mask_dtype.as_numpy_dtype)

    def load(image_path, mask_path):
        image = decode_image(tf.io.read_file(image_path), channels=3)
        mask = tf.py_function(read_mask, [mask_path], mask_dtype)
        mask.set_shape([None, None])
        return resize_pair(image, mask, load_size)

    image_paths = [image for image, _ in pairs]
    mask_paths = [mask for _, mask in pairs]
    ds = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths))
    if shuffle and not cache:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=_AUTOTUNE)
    return finish_pairs(ds, image_size=image_size, augment=augment, target_is_mask=True,
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
    resized (short side S, centre crop) and jittered identically. Symbolic links are followed,
    each folder once; broken or looping links are skipped with a warning
    (:func:`~tfgan_apps.data.files.list_image_files`).

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
        UserPathError: the folder does not exist, or is a file.
        UserError: bad ``direction``, size or batch size, no images, unreadable images, an odd
            width, or fewer images than `batch_size` with `drop_remainder`.
    """
    if direction not in ("AtoB", "BtoA"):
        raise UserError(f"must be 'AtoB' or 'BtoA', got {direction!r}", option="direction")
    image_size = check_positive_int("image_size", image_size)
    check_positive_int("batch_size", batch_size)
    paths = list_folder_images(directory, "aligned image folder")
    directory = os.fspath(directory)
    unreadable = find_unreadable_images(paths)
    if unreadable:
        raise UserError(
            f"{len(unreadable)} file(s) are not readable images: "
            f"{relative_names(unreadable, directory)}; replace or remove them"
        )
    odd = []
    for path in paths:
        with Image.open(path) as image:
            if image.size[0] % 2:
                odd.append(f"{os.path.relpath(path, directory)} ({image.size[0]}x{image.size[1]})")
    if odd:
        raise UserError(
            f"{len(odd)} image(s) have an odd width, so they are not side-by-side A|B pairs: "
            f"{name_list(odd)}; each file must hold A and B, of equal size, next to each other"
        )
    check_batch_fits(len(paths), batch_size, drop_remainder=drop_remainder,
                     where=repr(directory), items="images")
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
    return finish_pairs(ds, image_size=image_size, augment=augment, target_is_mask=False,
                        batch_size=batch_size, shuffle=shuffle and bool(cache), seed=seed,
                        deterministic=deterministic, drop_remainder=drop_remainder, cache=cache)
