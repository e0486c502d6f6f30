"""Input pipelines: one ``load_*`` function per source, each a batched, prefetched ``tf.data``.

Every loader yields float32 image batches ``[batch, S, S, C]`` in [-1, 1] (the range of the
generators' tanh output). The building blocks below are public because the pix2pix and CycleGAN
pipelines reuse them: decode (:mod:`~tfgan_apps.data.files`) → :func:`resize_and_center_crop`
(uint8) → :func:`finalize` (cache the compact uint8 images, shuffle, batch, optionally the random
jitter of :mod:`~tfgan_apps.data.jitter`, :func:`~tfgan_apps.data.convert.to_signed_unit`,
prefetch, options).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_datasets as tfds

from tfgan_apps.data.builtin import TfganShapes  # noqa: F401  (its import registers tfgan_shapes)
from tfgan_apps.data.checks import check_batch_fits, check_channels, check_positive_int, check_seed
from tfgan_apps.data.convert import to_signed_unit
from tfgan_apps.data.files import (
    IMAGE_EXTENSIONS,
    decode_image,
    find_unreadable_images,
    list_folder_images,
    relative_names,
)
from tfgan_apps.data.jitter import jitter_batches
from tfgan_apps.errors import UserError

# Cache decoded TFDS images in memory only below this size (CelebA at 64x64 is ~2 GB: streamed).
_MAX_CACHE_BYTES = 1 << 30
_MAX_SHUFFLE_BUFFER = 10_000
_AUTOTUNE = tf.data.AUTOTUNE


class _TfdsSource(NamedTuple):
    image_key: str
    size: int  # default output side S
    channels: int
    crop: int | None = None  # central square cropped before resizing (CelebA's face region)


_TFDS_SOURCES = {
    "mnist": _TfdsSource("image", 28, 1),
    "fashion_mnist": _TfdsSource("image", 28, 1),
    "cifar10": _TfdsSource("image", 32, 3),
    # 218x178 aligned faces; the central 140x140 holds the face, 64 is DCGAN's CelebA size.
    "celeb_a": _TfdsSource("image", 64, 3, crop=140),
    "tfgan_shapes/generation": _TfdsSource("image", 32, 3),
    "tfgan_shapes/generation_64": _TfdsSource("image", 64, 3),
    "tfgan_shapes/generation_128": _TfdsSource("image", 128, 3),
}
_BUILTIN_ALIASES = ("builtin", "tfgan_shapes")


# ----------------------------------------------------------------------------- building blocks


def resize_and_center_crop(image: tf.Tensor, size: int, method: str = "bilinear") -> tf.Tensor:
    """Resizes ``[H, W, C]`` so the SHORT side is `size` (aspect ratio kept), then centre-crops
    ``[size, size, C]``; nothing is stretched. Keeps the input dtype (uint8 is rounded).

    Args:
        image: ``[H, W, C]`` tensor, any H and W.
        size: output side.
        method: ``"bilinear"`` (antialiased, for images) or ``"nearest"`` (for label masks, so
            no new class ids are invented).
    """
    if method not in ("bilinear", "nearest"):
        raise UserError(f"method must be 'bilinear' or 'nearest', got {method!r}")
    check_positive_int("size", size)
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = size / tf.minimum(height, width)
    new_height = tf.maximum(size, tf.cast(tf.round(height * scale), tf.int32))
    new_width = tf.maximum(size, tf.cast(tf.round(width * scale), tf.int32))
    if method == "nearest":  # keeps the dtype
        resized = tf.image.resize(image, [new_height, new_width], method="nearest")
    else:
        resized = tf.image.resize(image, [new_height, new_width], antialias=True)
        if image.dtype.is_integer:
            resized = tf.clip_by_value(tf.round(resized), image.dtype.min, image.dtype.max)
        resized = tf.cast(resized, image.dtype)
    top, left = (new_height - size) // 2, (new_width - size) // 2
    cropped = resized[top : top + size, left : left + size, :]
    cropped.set_shape([size, size, image.shape[-1]])
    return cropped


def finalize(
    ds: tf.data.Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    deterministic: bool,
    drop_remainder: bool,
    cache: bool | str,
    map_fn: Callable[..., Any] | None = None,
    crop_size: int | None = None,
    batch_map_fn: Callable[..., Any] | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Applies the common tail: cache → shuffle → `map_fn` → batch → random crop to `crop_size`
    → `batch_map_fn` → prefetch.

    Args:
        ds: unbatched dataset of decoded, resized (compact, e.g. uint8) elements.
        batch_size: examples per batch.
        shuffle: shuffle the examples (reshuffled every epoch) with `seed`.
        seed: shuffle seed; ``None`` (a random order) is refused when `deterministic`.
        deterministic: ``tf.data.Options().deterministic``: True gives the same batches for the
            same seed on every run; False lets parallel stages emit out of order (faster).
        drop_remainder: drop the last partial batch (fixed batch shapes for strategies and XLA).
        cache: True caches in memory, a string caches to that file prefix, False streams.
        map_fn: per-element function run after cache and shuffle (random augmentation), so the
            cache stays small and augmentation differs every epoch.
        crop_size: the paper's random jitter (:func:`~tfgan_apps.data.jitter.jitter_batches`):
            a random ``crop_size`` square and flip per example (shared by the members of a
            tuple element), drawn from `seed`; None (default) does not crop.
        batch_map_fn: per-batch function (e.g. :func:`to_signed_unit`): vectorised over the
            batch, ~10x cheaper than per element for small images.
        shuffle_buffer: defaults to the dataset size when known, at most 10,000.

    Raises:
        UserError: a bad `batch_size`, `deterministic` shuffling without a `seed`, or
            `drop_remainder` with fewer known examples than `batch_size` (no batch at all).
    """
    check_positive_int("batch_size", batch_size)
    check_seed(seed, deterministic=deterministic and shuffle, purpose="the shuffle")
    size = int(ds.cardinality())
    check_batch_fits(size, batch_size, drop_remainder=drop_remainder)
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        buffer = shuffle_buffer or (min(size, _MAX_SHUFFLE_BUFFER) if size > 0 else None)
        ds = ds.shuffle(buffer or _MAX_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=_AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=_AUTOTUNE)
    if crop_size is not None:
        ds = jitter_batches(ds, crop_size, seed, shared=True)
    if batch_map_fn is not None:
        ds = ds.map(batch_map_fn, num_parallel_calls=_AUTOTUNE)
    ds = ds.prefetch(_AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.with_options(options)


def _convert_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    if image.shape[-1] == channels:
        return image
    return tf.image.grayscale_to_rgb(image) if channels == 3 else tf.image.rgb_to_grayscale(image)


# ----------------------------------------------------------------------------- TFDS


def _resolve_tfds_name(name: str, image_size: int | None) -> str:
    key = name.strip().lower()
    if key not in _BUILTIN_ALIASES:
        return key
    # The builder keeps each size in its own config: take the smallest at least image_size
    # (downscaling loses nothing), else the largest there is.
    configs = tfds.builder_cls("tfgan_shapes").builder_configs
    by_size = {32: "generation", 64: "generation_64", 128: "generation_128"}
    sizes = [size for size, config in by_size.items() if config in configs] or [32]
    chosen = next((size for size in sizes if size >= (image_size or 0)), sizes[-1])
    return f"tfgan_shapes/{by_size[chosen]}"


def read_tfds_split(
    name: str, split: str, *, shuffle: bool, seed: int | None, data_dir: str | None
) -> tf.data.Dataset:
    """Prepares the TFDS dataset `name` (downloads it, or renders the built-in one, once) and
    reads `split` as unbatched example dicts; with `shuffle`, the file order is shuffled with
    `seed`. Ordered datasets (``tfgan_shapes``: ``disable_shuffling``) refuse file shuffling
    and are read in order; :func:`finalize`'s example shuffle randomises them anyway."""
    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    return builder.as_dataset(
        split=split,
        shuffle_files=shuffle and not builder.info.disable_shuffling,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )


def load_tfds_images(
    name: str,
    *,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    data_dir: str | None = None,
    image_key: str | None = None,
    cache: bool | None = None,
) -> tf.data.Dataset:
    """Loads a TFDS image dataset for unconditional generation (labels are dropped).

    Supported names (native ``S``/``C`` used when `image_size`/`channels` are None):
    ``mnist`` and ``fashion_mnist`` (28, 1), ``cifar10`` (32, 3), ``celeb_a`` (64, 3: the central
    140x140 face region of the 218x178 aligned image, then resized), ``tfgan_shapes/generation``
    (32, 3), ``tfgan_shapes/generation_64`` (64), ``tfgan_shapes/generation_128`` (128), and the
    alias ``builtin`` for the offline ``tfgan_shapes`` set, which picks ``generation_64``/``_128``
    when `image_size` > 32. Any other TFDS image dataset loads when `image_key` is given.

    Args:
        name: TFDS name as above (a ``:version`` suffix is passed through).
        split: TFDS split, e.g. ``"train"`` or ``"train[:10%]"``.
        image_size: output side S; other sizes are resized (short side) and centre-cropped.
        channels: 1 or 3; grayscale and RGB are converted into each other.
        batch_size, shuffle, seed, deterministic, drop_remainder: see :func:`finalize`.
        data_dir: TFDS data directory (default ``~/tensorflow_datasets``).
        image_key: feature holding the image, overriding the known one.
        cache: cache the decoded uint8 images in memory; None caches when they take < 1 GiB.

    Returns:
        ``tf.data.Dataset`` of float32 ``[batch_size, S, S, C]`` in [-1, 1].

    Raises:
        UserError: unknown `name` without `image_key`, a missing `image_key` feature, or bad
            sizes or channels.
    """
    key = _resolve_tfds_name(name, image_size)
    source = _TFDS_SOURCES.get(key.split(":")[0])
    if source is None and image_key is None:
        supported = ", ".join([*_BUILTIN_ALIASES, *_TFDS_SOURCES])
        raise UserError(
            f"unknown dataset {name!r}; supported: {supported} "
            "(or pass image_key= to load another TFDS image dataset)"
        )
    image_key = image_key or source.image_key
    ds = read_tfds_split(key, split, shuffle=shuffle, seed=seed, data_dir=data_dir)
    if image_key not in ds.element_spec:
        raise UserError(f"{name!r} has no {image_key!r} feature, only {list(ds.element_spec)}")
    spec_shape = ds.element_spec[image_key].shape
    if source is None:
        height, width, native_channels = spec_shape
        native_size = height if height is not None and height == width else None
        source = _TfdsSource(image_key, native_size, native_channels)
    if image_size is None and source.size is None:
        raise UserError(f"{name!r} images are not square of a fixed size: pass image_size")
    image_size = check_positive_int(
        "image_size", source.size if image_size is None else image_size
    )
    channels = check_channels(channels if channels is not None else source.channels)
    resize = source.crop is not None or tuple(spec_shape[:2]) != (image_size, image_size)

    def prepare(example):
        image = example[image_key]
        if source.crop is not None:
            image = tf.image.resize_with_crop_or_pad(image, source.crop, source.crop)
        if resize:
            image = resize_and_center_crop(image, image_size)
        return _convert_channels(image, channels)

    ds = ds.map(prepare, num_parallel_calls=_AUTOTUNE)
    if cache is None:
        count = int(ds.cardinality())
        cache = 0 <= count * image_size * image_size * channels < _MAX_CACHE_BYTES
    return finalize(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        deterministic=deterministic,
        drop_remainder=drop_remainder,
        cache=cache,
        batch_map_fn=to_signed_unit,
    )


# ----------------------------------------------------------------------------- image folders


def load_image_folder(
    directory: str | os.PathLike,
    *,
    image_size: int,
    channels: int = 3,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    cache: bool | str = True,
) -> tf.data.Dataset:
    """Loads your own images: every .jpg/.jpeg/.png/.bmp/.gif (any case) under `directory`,
    recursively, of any size.

    Each image is resized so its SHORT side is `image_size` (aspect ratio kept) and centre-cropped
    to a square, never stretched; GIFs give their first frame, alpha is dropped. Files with other
    extensions (README.txt, .DS_Store, ...) are ignored silently. Files with an image extension
    that do not decode are checked up front and skipped with one warning that counts and names
    them, so training never fails on a bad file. Symbolic links are followed, each folder once
    (``sub -> .`` adds nothing); broken or looping links are skipped with one warning
    (:func:`~tfgan_apps.data.files.list_image_files`).

    Args:
        directory: folder (local or ``gs://``) holding the images, nested folders allowed.
        image_size: output side S.
        channels: 3 for RGB, 1 for grayscale (colour images are converted).
        batch_size, shuffle, seed, deterministic, drop_remainder: see :func:`finalize`.
        cache: True caches the decoded ``[S, S, C]`` uint8 images in memory (N*S*S*C bytes),
            a string caches to that file prefix, False re-reads the files every epoch.

    Returns:
        ``tf.data.Dataset`` of float32 ``[batch_size, S, S, C]`` in [-1, 1].

    Raises:
        UserPathError: `directory` does not exist or is a file.
        UserError: `directory` holds no readable image, fewer readable images than
            `batch_size` with `drop_remainder`, or a bad size, channels or batch size.
    """
    image_size = check_positive_int("image_size", image_size)
    channels = check_channels(channels)
    check_positive_int("batch_size", batch_size)
    paths = list_folder_images(directory)
    directory = os.fspath(directory)
    unreadable = find_unreadable_images(paths)
    if unreadable:
        if len(unreadable) == len(paths):
            raise UserError(
                f"none of the {len(paths)} image files under {directory!r} is a readable image "
                f"({relative_names(unreadable, directory)}); accepted formats: "
                f"{', '.join(IMAGE_EXTENSIONS)}"
            )
        warnings.warn(
            f"skipped {len(unreadable)} of {len(paths)} files that are not readable images "
            f"under {directory}: {relative_names(unreadable, directory)}",
            stacklevel=2,
        )
        bad = set(unreadable)
        paths = [p for p in paths if p not in bad]
    check_batch_fits(len(paths), batch_size, drop_remainder=drop_remainder,
                     where=repr(directory), items="readable images")

    ds = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle and not cache:
        # Streaming: shuffle the cheap file names (all of them) rather than decoded images.
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def load(path):
        return resize_and_center_crop(decode_image(tf.io.read_file(path), channels), image_size)

    ds = ds.map(load, num_parallel_calls=_AUTOTUNE)
    return finalize(
        ds,
        batch_size=batch_size,
        shuffle=shuffle and bool(cache),
        seed=seed,
        deterministic=deterministic,
        drop_remainder=drop_remainder,
        cache=cache,
        batch_map_fn=to_signed_unit,
    )


def load_generation_dataset(
    source: str | None = None, *, data_dir_images: str | None = None, **kwargs: Any
) -> tf.data.Dataset:
    """Dispatches the CLI's generation data: the image folder `data_dir_images` when given
    (`image_size` then required), else the TFDS dataset `source` (default ``"builtin"``).

    `kwargs` go to :func:`load_image_folder` or :func:`load_tfds_images`; returns their
    float32 ``[batch, S, S, C]`` batches in [-1, 1].
    """
    if data_dir_images is None:
        return load_tfds_images(source or "builtin", **kwargs)
    if source is not None:
        raise UserError(
            f"pass either a dataset name ({source!r}) or data_dir_images "
            f"({data_dir_images!r}), not both"
        )
    if kwargs.get("channels", 3) is None:
        kwargs.pop("channels")  # the CLI passes None for "native", which for a folder is RGB
    if kwargs.get("image_size") is None:
        raise UserError("image_size is required when loading an image folder")
    return load_image_folder(data_dir_images, **kwargs)
