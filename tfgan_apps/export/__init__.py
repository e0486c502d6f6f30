"""Versioned, atomic SavedModel export for TF Serving.

Layout: ``EXPORT_DIR/NAME/VERSION/`` with integer versions, the layout TF Serving watches. A
version is written into a hidden temporary directory beside it and renamed into place only
when complete, so a server never loads half a model and an existing version is never replaced.

Each application builds its ``keras.export.ExportArchive`` in its own module of this package
(:mod:`tfgan_apps.export.dcgan`, ...); :func:`tfgan_apps.export_saved_model` finds the
application of a model and passes its archive to :func:`write_saved_model`. Serving functions
are traced **without XLA**: TF Serving disables XLA, and a graph that requires it would fail on
the first request.

Each version also carries TF Serving's warm-up records
(``assets.extra/tf_serving_warmup_requests``, :mod:`tfgan_apps.export.warmup`): one small valid
request per signature, written inside the same temporary directory before the rename.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Mapping

import keras
import numpy as np

from tfgan_apps.atomic import (
    as_disk_error,
    follow_umask,
    make_dirs,
    remove_interrupted_writes,
    temp_prefix,
)
from tfgan_apps.callbacks import first_non_finite_weight
from tfgan_apps.errors import UserError
from tfgan_apps.export.warmup import write_warmup_requests

DEFAULT_EXPORT_DIR = "saved_models"
#: what a model name may be (a directory name TF Serving and URLs take as is)
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
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


def check_finite_weights(model: keras.Model) -> None:
    """Refuse a model with NaN or infinite weights (a diverged run would serve black images).

    Raises:
        UserError: naming the first non-finite weight.
    """
    weight = first_non_finite_weight(model)
    if weight is not None:
        raise UserError(f"the model's weight {weight} has non-finite values (NaN or "
                        "infinity): its training diverged; export a run that trained "
                        "without diverging")


def _is_taken(error: OSError) -> bool:
    return error.errno in (errno.EEXIST, errno.ENOTEMPTY)


def write_saved_model(
    archive: keras.export.ExportArchive,
    export_dir: str = DEFAULT_EXPORT_DIR,
    name: str = "model",
    version: int | None = None,
    warmup: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> str:
    """Write ``archive`` to ``export_dir/name/version`` atomically.

    The SavedModel is written into a hidden temporary directory (ignored by TF Serving's
    version scan) and renamed into place; a version directory is never replaced. Exports
    running at the same time each get their own version (with ``version=None`` a taken
    number moves on to the next free one; a given ``version`` that another export took
    first is an error). Temporary directories that killed exports left are removed.

    Args:
        archive: the serving signatures (an application's ``export_archive(model)``).
        export_dir: root of the exports (TF Serving's ``model_base_path`` is ``export_dir/name``).
        name: model name.
        version: positive integer; default the next free one. An existing version is an error.
        warmup: signature name -> a small valid input (input name -> array) of it: written as
            TF Serving's warm-up records, ``assets.extra/tf_serving_warmup_requests`` (one
            ``PredictionLog`` per signature, ``model_spec.name`` = ``name``), inside the
            temporary directory, so the version never appears without them. None: no file.

    Returns:
        The path of the written version directory.

    Raises:
        UserError: bad name or version, the version already exists, or the disk is full or
            read-only (nothing is left behind).
    """
    if not MODEL_NAME.match(name):
        raise UserError(f"invalid model name {name!r}: use letters, digits, '_', '-', '.'",
                        option="name")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                or version < 1):
        raise UserError(f"must be a positive integer, got {version!r}", option="version")
    model_root = os.path.join(export_dir, name)

    def taken(number: int) -> UserError:
        return UserError(f"{os.path.join(model_root, str(number))} already exists; choose "
                         "another version or omit it to use the next free one "
                         f"({next_version(model_root)})", option="version")

    if version is not None and os.path.exists(os.path.join(model_root, str(version))):
        raise taken(version)
    make_dirs(model_root)
    remove_interrupted_writes(model_root)
    try:
        tmp = tempfile.mkdtemp(prefix=temp_prefix(), dir=model_root)
    except OSError as error:
        user_error = as_disk_error(error, model_root, "SavedModel")
        if user_error is not None:
            raise user_error from None
        raise
    try:
        archive.write_out(tmp, verbose=False)
        if warmup is not None:
            write_warmup_requests(tmp, name, warmup)
        follow_umask(tmp, directory=True)
        number = version or next_version(model_root)
        while True:
            try:
                # rename(2) onto an existing non-empty directory fails: first export wins
                os.rename(tmp, os.path.join(model_root, str(number)))
                return os.path.join(model_root, str(number))
            except OSError as error:
                if not _is_taken(error):
                    raise
                if version is not None:
                    raise taken(version) from None
                number = max(number + 1, next_version(model_root))
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        user_error = as_disk_error(error, model_root, "SavedModel")
        if user_error is not None:
            raise user_error from None
        raise


__all__ = [
    "DEFAULT_EXPORT_DIR",
    "MODEL_NAME",
    "check_finite_weights",
    "existing_versions",
    "next_version",
    "write_saved_model",
]
