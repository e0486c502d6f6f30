"""Versioned, atomic SavedModel export for TF Serving.

Layout: ``EXPORT_DIR/NAME/VERSION/`` with integer versions, the layout TF Serving watches. A
version is written into a hidden temporary directory beside it and renamed into place only
when complete, so a server never loads half a model and an existing version is never replaced.

Each application builds its ``keras.export.ExportArchive`` in its own module of this package
(:mod:`tfgan_apps.export.dcgan`, ...); :func:`tfgan_apps.export_saved_model` finds the
application of a model and passes its archive to :func:`write_saved_model`. Serving functions
are traced **without XLA**: TF Serving disables XLA, and a graph that requires it would fail on
the first request.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import keras

from tfgan_apps.errors import UserError

DEFAULT_EXPORT_DIR = "saved_models"
_VERSION = re.compile(r"^[0-9]+$")


def existing_versions(model_root: str) -> list[int]:
    """Integer versions already under ``EXPORT_DIR/NAME`` (temporary directories ignored)."""
    if not os.path.isdir(model_root):
        return []
    return sorted(int(d) for d in os.listdir(model_root)
                  if _VERSION.match(d) and os.path.isdir(os.path.join(model_root, d)))


def next_version(model_root: str) -> int:
    """The next free integer version (1 for a new model)."""
    versions = existing_versions(model_root)
    return versions[-1] + 1 if versions else 1


def write_saved_model(
    archive: keras.export.ExportArchive,
    export_dir: str = DEFAULT_EXPORT_DIR,
    name: str = "model",
    version: int | None = None,
) -> str:
    """Write ``archive`` to ``export_dir/name/version`` atomically.

    Args:
        archive: the serving signatures (an application's ``export_archive(model)``).
        export_dir: root of the exports (TF Serving's ``model_base_path`` is ``export_dir/name``).
        name: model name.
        version: positive integer; default the next free one. An existing version is an error.

    Returns:
        The path of the written version directory.

    Raises:
        UserError: bad name or version, or the version already exists.
    """
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
        raise UserError(f"invalid model name {name!r}: use letters, digits, '_', '-', '.'",
                        option="name")
    model_root = os.path.join(export_dir, name)
    if version is None:
        version = next_version(model_root)
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"must be a positive integer, got {version!r}", option="version")
    final = os.path.join(model_root, str(int(version)))
    if os.path.exists(final):
        raise UserError(f"{final} already exists; choose another version or omit it to use "
                        f"the next free one ({next_version(model_root)})", option="version")
    os.makedirs(model_root, exist_ok=True)
    # Hidden (dot) names are ignored by TF Serving's version scan and by existing_versions.
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_root)
    try:
        archive.write_out(tmp, verbose=False)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


__all__ = [
    "DEFAULT_EXPORT_DIR",
    "existing_versions",
    "next_version",
    "write_saved_model",
]
