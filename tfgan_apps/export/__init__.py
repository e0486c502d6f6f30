"""Versioned, atomic SavedModel export for TF Serving.

Layout: ``EXPORT_DIR/NAME/VERSION/`` with integer versions, the layout TF Serving watches. A
version is written into a hidden temporary directory beside it and renamed into place only
when complete, so a server never loads half a model and an existing version is never replaced.

Each application registers an archive builder in ``ARCHIVE_BUILDERS`` (model class name ->
``model -> keras.export.ExportArchive``) from its own module in this package. Serving functions
are traced **without XLA**: TF Serving disables XLA, and a graph that requires it would fail on
the first request.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable

import keras

from tfgan_apps.export.cyclegan import build_cyclegan_archive
from tfgan_apps.export.dcgan import build_dcgan_archive
from tfgan_apps.export.pix2pix import build_pix2pix_archive

ARCHIVE_BUILDERS: dict[str, Callable[[keras.Model], keras.export.ExportArchive]] = {
    "CycleGAN": build_cyclegan_archive,
    "DCGAN": build_dcgan_archive,
    "Pix2Pix": build_pix2pix_archive,
}

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


def default_export_name(model: keras.Model) -> str:
    """``dcgan``, ``pix2pix``, ``cyclegan``: the model class name in lower case."""
    return type(model).__name__.lower()


def export_saved_model(
    model: keras.Model,
    export_dir: str = DEFAULT_EXPORT_DIR,
    name: str | None = None,
    version: int | None = None,
) -> str:
    """Export ``model`` with its application's serving signatures to ``export_dir/name/version``.

    Args:
        model: a trained tfgan_apps model (DCGAN, ...).
        export_dir: root of the exports (TF Serving's ``model_base_path`` is ``export_dir/name``).
        name: model name (default: the class name in lower case).
        version: positive integer; default the next free one. An existing version is an error.

    Returns:
        The path of the written version directory.

    Raises:
        ValueError: unsupported model, bad name or version, or the version already exists.
    """
    builder = ARCHIVE_BUILDERS.get(type(model).__name__)
    if builder is None:
        raise ValueError(f"cannot export a {type(model).__name__}: supported models are "
                         f"{sorted(ARCHIVE_BUILDERS)}")
    name = name or default_export_name(model)
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
        raise ValueError(f"invalid model name {name!r}: use letters, digits, '_', '-', '.'")
    model_root = os.path.join(export_dir, name)
    if version is None:
        version = next_version(model_root)
    elif int(version) < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    final = os.path.join(model_root, str(int(version)))
    if os.path.exists(final):
        raise ValueError(f"{final} already exists; choose another --version or omit it to use "
                         f"the next free one ({next_version(model_root)})")
    os.makedirs(model_root, exist_ok=True)
    # Hidden (dot) names are ignored by TF Serving's version scan and by existing_versions.
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_root)
    try:
        builder(model).write_out(tmp, verbose=False)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_run_model(run_dir: str) -> keras.Model:
    """Load ``RUN_DIR/model.keras`` (written by :func:`tfgan_apps.training.train`).

    Raises:
        FileNotFoundError: the run directory or its model file does not exist.
    """
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run directory {run_dir} does not exist; pass the --output "
                                "directory of a finished `tfgan-apps train` run")
    path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: {run_dir} is not a training run directory, "
                                "or its first epoch has not finished yet")
    return keras.models.load_model(path, compile=False, safe_mode=True)


def export_run(run_dir: str, export_dir: str = DEFAULT_EXPORT_DIR, name: str | None = None,
               version: int | None = None) -> str:
    """Load a run's model and :func:`export_saved_model` it; returns the version directory."""
    return export_saved_model(load_run_model(run_dir), export_dir, name, version)


__all__ = [
    "ARCHIVE_BUILDERS",
    "DEFAULT_EXPORT_DIR",
    "existing_versions",
    "export_run",
    "export_saved_model",
    "load_run_model",
    "next_version",
]
