"""Input pipelines: one ``load_*`` function per source, each a batched, prefetched ``tf.data``.

Every loader yields float32 image batches ``[batch, S, S, C]`` in [-1, 1] (the range of the
generators' tanh output). The building blocks below are public because the pix2pix and CycleGAN
pipelines reuse them: decode → :func:`resize_and_center_crop` (uint8) → :func:`finalize`
(cache the compact uint8 images, shuffle, batch, :func:`to_signed_unit`, prefetch, options).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_datasets as tfds

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

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


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_channels(channels: Any) -> int:
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return channels


# ----------------------------------------------------------------------------- building blocks


def list_image_files(directory: str | os.PathLike) -> list[str]:
    """Returns the sorted paths of all files under `directory` (recursively) with an image
    extension (.jpg, .jpeg, .png, .bmp, .gif, any case). Works with local and ``gs://`` paths."""
    directory = os.fspath(directory)
    paths = []
    for root, _, files in tf.io.gfile.walk(directory):
        paths.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(paths)


def find_unreadable_images(paths: Iterable[str]) -> list[str]:
    """Returns the paths, in input order, that :func:`decode_image` cannot decode.

    Every file is read and fully decoded once (in parallel, through ``tf.data``), with the same
    decoder the pipelines use, so a dataset built from the remaining paths never fails mid-training.
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return []

    def try_decode(index, path):
        image = decode_image(tf.io.read_file(path), channels=3)
        # Returning the shape makes the decode an output, so it is not pruned from the graph.
        return index, tf.shape(image)

    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), paths))
    ds = ds.map(try_decode, num_parallel_calls=_AUTOTUNE, deterministic=False)
    readable = {int(i) for i, _ in ds.ignore_errors(log_warning=False).as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in readable]


def decode_image(contents: tf.Tensor, channels: int) -> tf.Tensor:
    """Decodes JPEG/PNG/BMP/GIF bytes (a scalar string tensor) to uint8 ``[H, W, channels]``.

    GIFs give their first frame (``expand_animations=False``); alpha is dropped (not composited).
    The BMP and GIF decoders only produce RGB, so everything is decoded to RGB and converted to
    grayscale (ITU-R BT.601 luma) when ``channels=1``.
    """
    _check_channels(channels)
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


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
        raise ValueError(f"method must be 'bilinear' or 'nearest', got {method!r}")
    _check_positive_int("size", size)
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


def to_signed_unit(image: tf.Tensor) -> tf.Tensor:
    """Maps uint8 [0, 255] to float32 [-1, 1] (``x / 127.5 - 1``); any shape."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def from_signed_unit(x: tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`to_signed_unit`: float [-1, 1] to uint8 [0, 255], clipped and rounded."""
    scaled = (tf.cast(x, tf.float32) + 1.0) * 127.5
    return tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)


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
    batch_map_fn: Callable[..., Any] | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Applies the common tail: cache → shuffle → `map_fn` → batch → `batch_map_fn` → prefetch.

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
        batch_map_fn: per-batch function (e.g. :func:`to_signed_unit`): vectorised over the
            batch, ~10x cheaper than per element for small images.
        shuffle_buffer: defaults to the dataset size when known, at most 10,000.

    Raises:
        ValueError: `drop_remainder` with fewer known examples than `batch_size` (no batch at all).
    """
    _check_positive_int("batch_size", batch_size)
    if deterministic and shuffle and seed is None:
        raise ValueError("deterministic=True needs an integer shuffle seed, got seed=None")
    size = int(ds.cardinality())
    if drop_remainder and 0 <= size < batch_size:
        raise ValueError(
            f"the dataset has {size} examples, fewer than batch_size={batch_size}, so with "
            f"drop_remainder=True it would yield no batch; use batch_size <= {size} or "
            "drop_remainder=False"
        )
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        buffer = shuffle_buffer or (min(size, _MAX_SHUFFLE_BUFFER) if size > 0 else None)
        ds = ds.shuffle(buffer or _MAX_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=_AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=_AUTOTUNE)
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
    if key.startswith("tfgan_shapes") or key in _BUILTIN_ALIASES:
        import tfgan_apps.data.builtin  # noqa: F401  registers tfgan_shapes
    if key not in _BUILTIN_ALIASES:
        return key
    # The builder keeps each size in its own config: take the smallest at least image_size
    # (downscaling loses nothing), else the largest there is.
    configs = tfds.builder_cls("tfgan_shapes").builder_configs
    by_size = {32: "generation", 64: "generation_64", 128: "generation_128"}
    sizes = [size for size, config in by_size.items() if config in configs] or [32]
    chosen = next((size for size in sizes if size >= (image_size or 0)), sizes[-1])
    return f"tfgan_shapes/{by_size[chosen]}"


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
        ValueError: unknown `name` without `image_key`, or bad sizes.
    """
    key = _resolve_tfds_name(name, image_size)
    source = _TFDS_SOURCES.get(key.split(":")[0])
    if source is None and image_key is None:
        supported = ", ".join([*_BUILTIN_ALIASES, *_TFDS_SOURCES])
        raise ValueError(
            f"unknown dataset {name!r}; supported: {supported} "
            "(or pass image_key= to load another TFDS image dataset)"
        )
    image_key = image_key or source.image_key
    builder = tfds.builder(key, data_dir=data_dir)
    builder.download_and_prepare()
    # Ordered datasets (tfgan_shapes: disable_shuffling) refuse shuffle_files; the example
    # shuffle in finalize() randomises them anyway.
    ds = builder.as_dataset(
        split=split,
        shuffle_files=shuffle and not builder.info.disable_shuffling,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )
    if image_key not in ds.element_spec:
        raise ValueError(f"{name!r} has no {image_key!r} feature, only {list(ds.element_spec)}")
    spec_shape = ds.element_spec[image_key].shape
    if source is None:
        height, width, native_channels = spec_shape
        native_size = height if height is not None and height == width else None
        source = _TfdsSource(image_key, native_size, native_channels)
    if image_size is None and source.size is None:
        raise ValueError(f"{name!r} images are not square of a fixed size: pass image_size")
    image_size = _check_positive_int(
        "image_size", source.size if image_size is None else image_size
    )
    channels = _check_channels(channels if channels is not None else source.channels)
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


def _short_list(paths: list[str], directory: str, limit: int = 5) -> str:
    names = [os.path.relpath(p, directory) for p in paths[:limit]]
    more = f", ... ({len(paths) - limit} more)" if len(paths) > limit else ""
    return ", ".join(names) + more


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
    them, so training never fails on a bad file.

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
        FileNotFoundError: `directory` does not exist.
        ValueError: `directory` is a file, holds no readable image, or fewer readable images
            than `batch_size` with `drop_remainder`.
    """
    directory = os.fspath(directory)
    image_size = _check_positive_int("image_size", image_size)
    channels = _check_channels(channels)
    _check_positive_int("batch_size", batch_size)
    accepted = ", ".join(IMAGE_EXTENSIONS)
    if not tf.io.gfile.exists(directory):
        raise FileNotFoundError(f"image folder {directory!r} does not exist")
    if not tf.io.gfile.isdir(directory):
        raise ValueError(
            f"{directory!r} is a file, not a folder: pass the folder that holds your images "
            f"(accepted extensions: {accepted})"
        )
    paths = list_image_files(directory)
    if not paths:
        others = sorted(os.path.join(r, f) for r, _, fs in tf.io.gfile.walk(directory) for f in fs)
        found = (
            f"{len(others)} other files ({_short_list(others, directory)})" if others else "none"
        )
        raise ValueError(f"no images under {directory!r} (files found: {found}); use {accepted}")
    unreadable = find_unreadable_images(paths)
    if unreadable:
        if len(unreadable) == len(paths):
            raise ValueError(
                f"none of the {len(paths)} image files under {directory!r} is a readable image "
                f"({_short_list(unreadable, directory)}); accepted formats: {accepted}"
            )
        warnings.warn(
            f"skipped {len(unreadable)} of {len(paths)} files that are not readable images "
            f"under {directory}: {_short_list(unreadable, directory)}",
            stacklevel=2,
        )
        bad = set(unreadable)
        paths = [p for p in paths if p not in bad]
    if drop_remainder and len(paths) < batch_size:
        raise ValueError(
            f"{directory!r} has {len(paths)} readable images, fewer than batch_size={batch_size}, "
            f"so with drop_remainder=True there would be no batch; use batch_size <= {len(paths)} "
            "or drop_remainder=False"
        )

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
        raise ValueError(
            f"pass either a dataset name ({source!r}) or data_dir_images "
            f"({data_dir_images!r}), not both"
        )
    if kwargs.get("channels", 3) is None:
        kwargs.pop("channels")  # the CLI passes None for "native", which for a folder is RGB
    if kwargs.get("image_size") is None:
        raise ValueError("image_size is required when loading an image folder")
    return load_image_folder(data_dir_images, **kwargs)
