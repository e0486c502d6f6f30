"""Unpaired image collections for CycleGAN: batches of ``(a, b)`` from two independent domains.

Sources: TFDS ``cycle_gan/<config>`` (splits ``trainA``/``trainB``/``testA``/``testB``, feature
``image``; horse2zebra, monet2photo, vangogh2photo, ...), the built-in ``tfgan_shapes/style``
domains (``image_a`` / ``image_b``, plus the true translation ``image_a_in_b`` for evaluation),
and two folders of the user's own images (different counts, any sizes).

Each domain is loaded by :mod:`tfgan_apps.data.pipelines` (decode, resize the short side and
centre-crop, cache, shuffle with its own seed, batch), the smaller domain is repeated so an
epoch is one pass over the larger one (as in the reference implementation), and the paper's
random jitter of :mod:`tfgan_apps.data.jitter` is applied per image, the same as pix2pix's:
load at :func:`~tfgan_apps.data.jitter.jitter_load_size` (286 for 256), random crop back to
the training size, random horizontal flip; the two domains draw independently. The draws are
stateless, from ``tf.data.Dataset.random(seed)``, so with ``deterministic=True`` a seed gives
the same batches.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from tfgan_apps.data.builtin import TfganShapes  # noqa: F401  (its import registers tfgan_shapes)
from tfgan_apps.data.checks import check_positive_int
from tfgan_apps.data.convert import to_signed_unit
from tfgan_apps.data.jitter import jitter_batches, jitter_load_size
from tfgan_apps.data.pipelines import (
    load_image_folder,
    load_tfds_images,
    read_tfds_split,
    resize_and_center_crop,
)
from tfgan_apps.errors import UserError

_AUTOTUNE = tf.data.AUTOTUNE
_BUILTIN_STYLE_ALIASES = ("builtin", "tfgan_shapes", "tfgan_shapes/style")
_BUILTIN_STYLE_SIZES = {64: "tfgan_shapes/style", 128: "tfgan_shapes/style_128"}
_CYCLE_GAN_SIZE = 256


def _zip_domains(
    domain_a: tf.data.Dataset, domain_b: tf.data.Dataset, *, image_size: int, augment: bool,
    seed: int | None,
    deterministic: bool,
) -> tf.data.Dataset:
    """Zip two batched domains, repeating the smaller, and apply the jitter."""
    count_a, count_b = int(domain_a.cardinality()), int(domain_b.cardinality())
    if count_a >= 0 and count_b >= 0:
        if count_a < count_b:
            domain_a = domain_a.repeat()
        elif count_b < count_a:
            domain_b = domain_b.repeat()
    ds = tf.data.Dataset.zip((domain_a, domain_b))
    if augment:
        ds = jitter_batches(ds, image_size, seed, shared=False)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(_AUTOTUNE).with_options(options)


def resolve_unpaired_name(name: str, image_size: int | None) -> tuple[str, int, str, str]:
    """``(tfds_name, default_size, key_a, key_b)`` of a supported unpaired dataset name.

    ``builtin``/``tfgan_shapes``/``tfgan_shapes/style`` -> the built-in style domains (64x64;
    ``tfgan_shapes/style_128`` when `image_size` > 64); ``cycle_gan/<config>[:version]``.
    """
    key = name.strip().lower()
    if key in _BUILTIN_STYLE_ALIASES or key.startswith("tfgan_shapes/style"):
        if key in _BUILTIN_STYLE_ALIASES:
            size = 64 if image_size is None or image_size <= 64 else 128
            key = _BUILTIN_STYLE_SIZES[size]
        if key.split(":")[0] not in _BUILTIN_STYLE_SIZES.values():
            raise UserError(f"unknown built-in style config {name!r}; use "
                             f"{', '.join(_BUILTIN_STYLE_SIZES.values())} or 'builtin'")
        size = 128 if key.split(":")[0].endswith("_128") else 64
        return key, size, "image_a", "image_b"
    if key.startswith("cycle_gan/") and len(key) > len("cycle_gan/"):
        return key, _CYCLE_GAN_SIZE, "image", "image"
    raise UserError(
        f"unknown unpaired dataset {name!r}; supported: 'builtin' (tfgan_shapes/style, "
        "tfgan_shapes/style_128) and 'cycle_gan/<config>' (horse2zebra, monet2photo, "
        "vangogh2photo, apple2orange, summer2winter_yosemite, ...), or two image folders"
    )


def _domain_splits(tfds_name: str, split: str) -> tuple[str, str]:
    """TFDS splits of domains A and B for ``train``/``test`` (slices like ``train[:10%]`` kept)."""
    base, bracket, rest = split.partition("[")
    if base not in ("train", "test"):
        raise UserError(f"split must be 'train' or 'test' (optionally sliced, e.g. "
                         f"'train[:10%]'), got {split!r}")
    if tfds_name.startswith("cycle_gan"):
        return f"{base}A{bracket}{rest}", f"{base}B{bracket}{rest}"
    return split, split


def load_tfds_unpaired(
    name: str = "builtin",
    *,
    split: str = "train",
    image_size: int | None = None,
    batch_size: int = 1,
    augment: bool | None = None,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    data_dir: str | None = None,
    cache: bool | None = None,
) -> tf.data.Dataset:
    """Unpaired ``(a, b)`` batches from TFDS ``cycle_gan/<config>`` or the built-in style set.

    Args:
        name: ``"builtin"`` (= ``tfgan_shapes/style``, 64x64; ``style_128`` when `image_size`
            > 64) or ``"cycle_gan/<config>"`` (e.g. ``cycle_gan/horse2zebra``; splits trainA,
            trainB, testA, testB, feature ``image``).
        split: ``"train"`` or ``"test"`` (``"train[:10%]"`` slices both domains).
        image_size: S (default: 64 built-in, 256 cycle_gan).
        batch_size: examples per batch (the paper uses 1).
        augment: the paper's random jitter (load at ``round(S * 286 / 256)``, random crop S,
            random flip);
            default True for ``train``, False otherwise (resize + centre crop to S).
        shuffle: shuffle each domain (independently, reshuffled every epoch).
        seed: seed of shuffling and jitter (None: not reproducible).
        deterministic: same batches for the same seed on every run (slower input pipeline).
        drop_remainder: drop each domain's last partial batch.
        data_dir: TFDS data directory.
        cache: cache the decoded images in memory (default when < 1 GiB, see
            :func:`~tfgan_apps.data.pipelines.load_tfds_images`).

    Returns:
        ``tf.data.Dataset`` of ``(a, b)``, each float32 ``[batch, S, S, 3]`` in [-1, 1]; an epoch
        is one pass over the larger domain (the smaller repeats).

    Raises:
        UserError: unknown `name` or `split`, or a bad size, batch size or seed.
    """
    tfds_name, native_size, key_a, key_b = resolve_unpaired_name(name, image_size)
    image_size = check_positive_int("image_size",
                                    native_size if image_size is None else image_size)
    augment = split.startswith("train") if augment is None else bool(augment)
    split_a, split_b = _domain_splits(tfds_name, split)
    load_size = jitter_load_size(image_size) if augment else image_size
    common = dict(image_size=load_size, channels=3, batch_size=batch_size, shuffle=shuffle,
                  deterministic=deterministic, drop_remainder=drop_remainder, data_dir=data_dir,
                  cache=cache)
    other_seed = None if seed is None else seed + 1
    domain_a = load_tfds_images(tfds_name, split=split_a, image_key=key_a, seed=seed, **common)
    domain_b = load_tfds_images(tfds_name, split=split_b, image_key=key_b, seed=other_seed,
                                **common)
    return _zip_domains(domain_a, domain_b, image_size=image_size, augment=augment, seed=seed,
                        deterministic=deterministic)


def load_unpaired_folders(
    dir_a: str | os.PathLike,
    dir_b: str | os.PathLike,
    *,
    image_size: int,
    batch_size: int = 1,
    augment: bool = True,
    shuffle: bool = True,
    seed: int | None = 0,
    deterministic: bool = False,
    drop_remainder: bool = True,
    cache: bool | str = True,
) -> tf.data.Dataset:
    """Unpaired ``(a, b)`` batches from two folders of the user's images.

    Each folder is read like :func:`~tfgan_apps.data.pipelines.load_image_folder` (every
    .jpg/.jpeg/.png/.bmp/.gif under it, recursively, any size; short side resized, centre
    crop; unreadable files, broken or looping links skipped with a warning; links to folders
    followed, each folder once; the same errors for missing or empty folders). The folders may
    hold different numbers of images: the smaller repeats.

    Args:
        dir_a, dir_b: folders of domain A and domain B images.
        image_size: S.
        batch_size, shuffle, seed, deterministic, drop_remainder: as in
            :func:`load_tfds_unpaired`.
        augment: the paper's random jitter (load at ``round(S * 286 / 256)``, random crop,
            flip).
        cache: cache decoded images in memory (True), in files with this prefix (a string; the
            two domains get ``_a``/``_b`` suffixes), or not at all (False).

    Returns:
        ``tf.data.Dataset`` of ``(a, b)``, each float32 ``[batch, S, S, 3]`` in [-1, 1].

    Raises:
        UserPathError: a folder does not exist or is a file.
        UserError: a folder holds no readable image, or fewer than `batch_size`; a bad size.
    """
    image_size = check_positive_int("image_size", image_size)
    load_size = jitter_load_size(image_size) if augment else image_size
    common = dict(image_size=load_size, channels=3, batch_size=batch_size, shuffle=shuffle,
                  deterministic=deterministic, drop_remainder=drop_remainder)
    other_seed = None if seed is None else seed + 1
    domain_a = load_image_folder(dir_a, seed=seed,
                                 cache=f"{cache}_a" if isinstance(cache, str) else cache, **common)
    domain_b = load_image_folder(dir_b, seed=other_seed,
                                 cache=f"{cache}_b" if isinstance(cache, str) else cache, **common)
    return _zip_domains(domain_a, domain_b, image_size=image_size, augment=augment, seed=seed,
                        deterministic=deterministic)


def load_unpaired_dataset(
    source: str | None = None,
    *,
    data_dir_a: str | None = None,
    data_dir_b: str | None = None,
    **kwargs: Any,
) -> tf.data.Dataset:
    """Dispatches the CLI's CycleGAN data: the two folders when given (`image_size` required),
    else the TFDS dataset `source` (default ``"builtin"``). `kwargs` go to
    :func:`load_unpaired_folders` or :func:`load_tfds_unpaired`.

    Raises:
        UserError: only one folder, folders together with a dataset name or with TFDS-only
            arguments, or any error of the loader.
    """
    if data_dir_a is None and data_dir_b is None:
        return load_tfds_unpaired(source or "builtin", **kwargs)
    if data_dir_a is None or data_dir_b is None:
        raise UserError("pass both data_dir_a and data_dir_b (the two unpaired image "
                        f"folders), got only {data_dir_a or data_dir_b!r}")
    if source is not None:
        raise UserError(f"pass either a dataset name ({source!r}) or two image folders, "
                         "not both")
    if kwargs.get("image_size") is None:
        kwargs["image_size"] = _CYCLE_GAN_SIZE
    tfds_only = sorted({"split", "data_dir"} & kwargs.keys())
    if tfds_only:
        raise UserError(f"{', '.join(tfds_only)} only apply to TFDS datasets, not folders")
    if kwargs.get("augment") is None:
        kwargs.pop("augment", None)
    return load_unpaired_folders(data_dir_a, data_dir_b, **kwargs)


def load_style_test_triplets(
    name: str = "builtin",
    *,
    split: str = "test",
    image_size: int | None = None,
    batch_size: int = 50,
    data_dir: str | None = None,
) -> tf.data.Dataset:
    """The built-in style set with its ground truth, in order, for evaluating A -> B.

    Args:
        name: ``"builtin"``, ``"tfgan_shapes/style"`` or ``"tfgan_shapes/style_128"``.
        split: ``"test"`` (default) or ``"train"`` (slices allowed).
        image_size: S (default the config's own); other sizes are resized.
        batch_size: examples per batch (the last batch may be smaller).
        data_dir: TFDS data directory.

    Returns:
        ``tf.data.Dataset`` of dicts ``{"image_a", "image_b", "image_a_in_b"}``, each float32
        ``[batch, S, S, 3]`` in [-1, 1]; ``image_a_in_b`` is the true translation of
        ``image_a`` (:func:`tfgan_apps.data.builtin.style_a_to_b`), ``image_b`` an unrelated
        real B image.

    Raises:
        UserError: `name` is not the built-in style set, or a bad size.
    """
    tfds_name, native_size, _, _ = resolve_unpaired_name(name, image_size)
    if not tfds_name.startswith("tfgan_shapes"):
        raise UserError(f"{name!r} has no ground-truth translation; only the built-in style "
                        "set ('builtin') does")
    image_size = check_positive_int("image_size",
                                    native_size if image_size is None else image_size)
    ds = read_tfds_split(tfds_name, split, shuffle=False, seed=None, data_dir=data_dir)
    keys = ("image_a", "image_b", "image_a_in_b")

    def prepare(example):
        out = {}
        for key in keys:
            image = example[key]
            if image_size != native_size:
                image = resize_and_center_crop(image, image_size)
            out[key] = to_signed_unit(image)
        return out

    return ds.map(prepare, num_parallel_calls=_AUTOTUNE).batch(batch_size).prefetch(_AUTOTUNE)
