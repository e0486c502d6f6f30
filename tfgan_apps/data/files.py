"""Your own image files: finding them, decoding them, and checking them before training.

Every folder loader (:func:`~tfgan_apps.data.pipelines.load_image_folder`, the pix2pix pair
folders, the CycleGAN domain folders) goes through :func:`list_folder_images` and
:func:`find_unreadable_images`, so a missing folder, an empty one or a corrupt file is reported
the same way, by name, before any training starts. Local and ``gs://`` paths both work.

Symbolic links in a local folder are followed, each folder at most once (see
:func:`list_image_files`); what cannot be reached (a broken or looping link, a folder without
permission) is skipped with one warning that counts and names it, never a traceback.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import stat
from collections.abc import Iterable

import tensorflow as tf

from tfgan_apps.data.checks import check_channels, name_list
from tfgan_apps.errors import UserError, UserPathError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

logger = logging.getLogger(__name__)

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _is_remote(path: str) -> bool:
    """``gs://...`` and other URLs: tf.io.gfile's business, with no symbolic links to handle."""
    return bool(_URL_SCHEME.match(path))


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


@dataclasses.dataclass
class _FolderScan:
    """What one walk of a folder found, every path under the folder as the user names it."""

    images: list[str] = dataclasses.field(default_factory=list)
    others: list[str] = dataclasses.field(default_factory=list)
    broken: list[str] = dataclasses.field(default_factory=list)  # links to nothing, loops
    special: list[str] = dataclasses.field(default_factory=list)  # a pipe named x.png...
    unlisted: list[str] = dataclasses.field(default_factory=list)  # no permission to list
    repeated: list[str] = dataclasses.field(default_factory=list)  # a folder reached again

    def skipped(self) -> int:
        return len(self.broken) + len(self.special) + len(self.unlisted) + len(self.repeated)

    def describe_skipped(self, directory: str) -> str:
        """``"2 broken or looping links (a.png, b.png); 1 folder ..."``, relative to it."""
        parts = []
        for paths, one, many in (
            (self.broken, "broken or looping link", "broken or looping links"),
            (self.special, "special file that is not a regular file",
             "special files that are not regular files"),
            (self.unlisted, "folder that cannot be listed", "folders that cannot be listed"),
            (self.repeated, "folder already listed through another path",
             "folders already listed through another path"),
        ):
            if paths:
                what = one if len(paths) == 1 else many
                parts.append(f"{len(paths)} {what} ({relative_names(sorted(paths), directory)})")
        return "; ".join(parts)


def _scan_remote(directory: str) -> _FolderScan:
    scan = _FolderScan()
    for root, _, files in tf.io.gfile.walk(directory):
        for name in files:
            (scan.images if _is_image_name(name) else scan.others).append(os.path.join(root, name))
    return scan


def _scan_local(directory: str) -> _FolderScan:
    scan = _FolderScan()
    visited: set[tuple[int, int]] = set()  # (st_dev, st_ino) of every folder walked
    # Real sub-folders are walked before any linked one, so that a folder inside `directory`
    # keeps its own name even when a link to it (``a_link -> photos``) sorts first.
    real: list[str] = [directory]
    linked: collections.deque[str] = collections.deque()
    while real or linked:
        folder = real.pop() if real else linked.popleft()
        try:
            info = os.stat(folder)
        except OSError:
            # A missing `directory` lists nothing, as tf.io.gfile.walk does; a linked folder
            # only fails here if its target went away since it was listed.
            if folder != directory:
                scan.broken.append(folder)
            continue
        if (info.st_dev, info.st_ino) in visited:
            scan.repeated.append(folder)
            continue
        visited.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            scan.unlisted.append(folder)
            continue
        for entry in entries:
            is_link = entry.is_symlink()
            if is_link:
                try:
                    mode = os.stat(entry.path).st_mode
                except OSError:  # ENOENT: a dangling link; ELOOP: links pointing at each other
                    scan.broken.append(entry.path)
                    continue
                is_dir, is_file = stat.S_ISDIR(mode), stat.S_ISREG(mode)
            else:  # the kind comes with the listing: no stat call per file
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
            if is_dir:
                (linked if is_link else real).append(entry.path)
            elif not _is_image_name(entry.name):
                scan.others.append(entry.path)
            elif is_file:
                scan.images.append(entry.path)
            else:  # reading a pipe or a device would block or never end
                scan.special.append(entry.path)
    return scan


def _scan(directory: str) -> _FolderScan:
    scan = _scan_remote(directory) if _is_remote(directory) else _scan_local(directory)
    scan.images.sort()
    scan.others.sort()
    return scan


def _warn_skipped(scan: _FolderScan, directory: str) -> None:
    if scan.skipped():
        logger.warning("skipped under %s: %s", directory, scan.describe_skipped(directory))


def list_image_files(directory: str | os.PathLike) -> list[str]:
    """Returns the sorted paths of all files under `directory` (recursively) with an image
    extension (.jpg, .jpeg, .png, .bmp, .gif, any case). Works with local and ``gs://`` paths.

    In a local folder, symbolic links are followed: a link to a file is listed under the link's
    name, and a link to a folder is walked, under the link's name, unless that folder was
    already walked (``sub -> .``, a second link to the same photos, a loop of folder links):
    every real folder is walked once, so each of its files is listed once, and a folder inside
    `directory` keeps its own name. Two names for one file (``x.png`` and a link
    ``link_to_x.png``) stay two entries: both are names the user chose, so the image counts
    twice, as a copy would. What cannot be reached is left out up front, never failing later:
    broken or looping links, folders that cannot be listed, pipes and other special files with
    an image extension; one ``logging`` warning counts and names them (and the folders skipped
    because they were already walked), relative to `directory`.
    """
    directory = os.fspath(directory)
    scan = _scan(directory)
    _warn_skipped(scan, directory)
    return scan.images


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
    (:func:`list_image_files`: links followed, each folder once, broken or looping links
    skipped with one warning), refusing a folder without any.

    Raises:
        UserPathError: `directory` does not exist or is a file.
        UserError: no file under it has an image extension; the message names the other files
            found, if any, what was skipped (broken links...), and the accepted extensions.
    """
    accepted = ", ".join(IMAGE_EXTENSIONS)
    directory = check_folder(directory, what, f": pass the folder that holds the images "
                             f"(accepted extensions: {accepted})")
    scan = _scan(directory)
    if not scan.images:
        others = scan.others
        found = f"{len(others)} other files ({relative_names(others, directory)})" if others else (
            "none")
        if scan.skipped():
            raise UserError(
                f"no images under {directory!r} (files found: {found}; skipped: "
                f"{scan.describe_skipped(directory)}); repair or remove what was skipped; images "
                f"must end in {accepted}"
            )
        raise UserError(f"no images under {directory!r} (files found: {found}); use {accepted}")
    _warn_skipped(scan, directory)
    return scan.images


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
    A local path that is not a regular file (a broken or looping link, a pipe) counts as
    unreadable without being opened.
    """
    paths = [os.fspath(p) for p in paths]
    # Opening a pipe would block forever, and a broken link only logs a kernel error per file.
    candidates = [i for i, p in enumerate(paths) if _is_remote(p) or os.path.isfile(p)]
    if not candidates:
        return list(paths)

    def try_decode(index, path):
        image = decode_image(tf.io.read_file(path), channels=3)
        # Returning the shape makes the decode an output, so it is not pruned from the graph.
        return index, tf.shape(image)

    indices = tf.constant(candidates, dtype=tf.int64)
    ds = tf.data.Dataset.from_tensor_slices((indices, [paths[i] for i in candidates]))
    ds = ds.map(try_decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    readable = {int(i) for i, _ in ds.ignore_errors(log_warning=False).as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in readable]
