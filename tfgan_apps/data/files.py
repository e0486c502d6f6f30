"""Your own image files: finding them, decoding them, and checking them before training.

Every folder loader (:func:`~tfgan_apps.data.pipelines.load_image_folder`, the pix2pix pair
folders, the CycleGAN domain folders) goes through :func:`list_folder_images` and
:func:`find_unreadable_images`, so a missing folder, an empty one or a corrupt file is reported
the same way, by name, before any training starts. Local and ``gs://`` paths both work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import tensorflow as tf

from tfgan_apps.data.checks import check_channels, name_list
from tfgan_apps.errors import UserError, UserPathError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def list_image_files(directory: str | os.PathLike) -> list[str]:
    """Returns the sorted paths of all files under `directory` (recursively) with an image
    extension (.jpg, .jpeg, .png, .bmp, .gif, any case). Works with local and ``gs://`` paths."""
    directory = os.fspath(directory)
    paths = []
    for root, _, files in tf.io.gfile.walk(directory):
        paths.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(paths)


def relative_names(paths: Iterable[str], directory: str, limit: int = 5) -> str:
    """The first `limit` of `paths`, relative to `directory`, for an error message."""
    return name_list([os.path.relpath(p, directory) for p in paths], limit)


def check_folder(directory: str | os.PathLike, what: str, hint: str = "") -> str:
    """Returns `directory` as a string if it is an existing folder.

    Args:
        directory: the path the user gave.
        what: what the folder holds, for the message (e.g. ``"mask folder"``).
        hint: appended to the is-a-file message (e.g. the accepted extensions).

    Raises:
        UserPathError: `directory` does not exist, or is a file.
    """
    directory = os.fspath(directory)
    if not tf.io.gfile.exists(directory):
        raise UserPathError(f"{what} {directory!r} does not exist")
    if not tf.io.gfile.isdir(directory):
        raise UserPathError(f"{what} {directory!r} is a file, not a folder{hint}")
    return directory


def list_folder_images(directory: str | os.PathLike, what: str = "image folder") -> list[str]:
    """Checks `directory` (:func:`check_folder`) and returns its image files
    (:func:`list_image_files`), refusing a folder without any.

    Raises:
        UserPathError: `directory` does not exist or is a file.
        UserError: no file under it has an image extension; the message names the other files
            found, if any, and the accepted extensions.
    """
    accepted = ", ".join(IMAGE_EXTENSIONS)
    directory = check_folder(directory, what, f": pass the folder that holds the images "
                             f"(accepted extensions: {accepted})")
    paths = list_image_files(directory)
    if not paths:
        others = sorted(os.path.join(r, f) for r, _, fs in tf.io.gfile.walk(directory) for f in fs)
        found = f"{len(others)} other files ({relative_names(others, directory)})" if others else (
            "none")
        raise UserError(f"no images under {directory!r} (files found: {found}); use {accepted}")
    return paths


def decode_image(contents: tf.Tensor, channels: int) -> tf.Tensor:
    """Decodes JPEG/PNG/BMP/GIF bytes (a scalar string tensor) to uint8 ``[H, W, channels]``.

    GIFs give their first frame (``expand_animations=False``); alpha is dropped (not composited).
    The BMP and GIF decoders only produce RGB, so everything is decoded to RGB and converted to
    grayscale (ITU-R BT.601 luma) when ``channels=1``.

    Raises:
        UserError: `channels` is not 1 or 3.
        tf.errors.InvalidArgumentError: (when run) the bytes are not an image.
    """
    check_channels(channels)
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


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
    ds = ds.map(try_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    readable = {int(i) for i, _ in ds.ignore_errors(log_warning=False).as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in readable]
