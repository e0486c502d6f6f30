"""A run directory: its paths, its record (``config.json``), the resume check, its model.

Layout::

    RUN_DIR/config.json          the resolved TrainConfig, what was resolved from the data and
                                 the environment ("resolved"), and one entry per resume
                                 ("resumes": when, from which epoch, what changed)
    RUN_DIR/model.keras          the model after the last finished epoch (atomic)
    RUN_DIR/checkpoints/         TF checkpoints of the full training state after each epoch
    RUN_DIR/samples/epoch_NNNN.png
    RUN_DIR/history.json, RUN_DIR/loss_curves.png
    RUN_DIR/evaluation.json      the application's final report, when it has one
    RUN_DIR/logs/                TensorBoard (scalars, sample images)

Re-running into a run directory resumes it, but only with the options it was trained with:
:meth:`RunDirectory.check_resume` refuses any other (before anything is written) and allows
only :data:`tfgan_apps.config.RESUMABLE_FIELDS` to change, which are recorded.
"""

from __future__ import annotations

import datetime
import json
import os
import zipfile
from typing import Any

import keras

from tfgan_apps.atomic import remove_interrupted_writes, write_json
from tfgan_apps.callbacks import ResumableCheckpoint
from tfgan_apps.config import RESUMABLE_FIELDS, TrainConfig
from tfgan_apps.errors import UserError, UserPathError

#: keys of config.json besides the TrainConfig's own
_RECORD_KEYS = ("resolved", "resumes")


def default_run_dir(app: str, root: str = "runs") -> str:
    """``runs/<app>-YYYYmmdd-HHMMSS``."""
    return os.path.join(root, f"{app}-{datetime.datetime.now():%Y%m%d-%H%M%S}")


def _flatten(config: TrainConfig) -> dict[str, Any]:
    """Run settings and options in one flat dict (option names are unique across both)."""
    data = config.to_json()
    options = data.pop("options") or {}
    return {**data, **options}


def _shown(value: Any) -> str:
    return "None" if value is None else str(value)


class RunDirectory:
    """The files of one training run under ``path`` (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.config_path = os.path.join(path, "config.json")
        self.model_path = os.path.join(path, "model.keras")
        self.checkpoints_dir = os.path.join(path, "checkpoints")
        self.samples_dir = os.path.join(path, "samples")
        self.logs_dir = os.path.join(path, "logs")
        self.history_path = os.path.join(path, "history.json")
        self.curves_path = os.path.join(path, "loss_curves.png")
        self.evaluation_path = os.path.join(path, "evaluation.json")

    def __repr__(self) -> str:
        return f"RunDirectory({self.path!r})"

    # ----------------------------------------------------------------------------- record
    def read_record(self) -> dict[str, Any] | None:
        """``config.json`` as written, or None when the directory holds no run yet.

        Raises:
            UserError: ``config.json`` exists but is not readable JSON.
        """
        if not os.path.isfile(self.config_path):
            return None
        try:
            with open(self.config_path) as f:
                return json.load(f)
        except (OSError, ValueError) as error:
            raise UserError(f"{self.config_path} is not a readable run record ({error}); "
                            "choose another output directory") from None

    def read_config(self) -> TrainConfig | None:
        """The TrainConfig this directory was trained with, or None for a new directory.

        Raises:
            UserError: ``config.json`` has keys no TrainConfig knows (named in the message).
        """
        record = self.read_record()
        if record is None:
            return None
        return TrainConfig.from_json({k: v for k, v in record.items() if k not in _RECORD_KEYS})

    def check_resume(self, config: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """Check that ``config`` (resolved) may continue the run stored here.

        Returns:
            The changed :data:`~tfgan_apps.config.RESUMABLE_FIELDS`, ``{name: (old, new)}``
            (empty for a new directory or an identical config).

        Raises:
            UserError: the directory was trained with other options (the message names each
                one, old and new value), or is a file.
        """
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise UserError(f"{self.path} is a file, not a run directory: choose another "
                            "output directory", option="output")
        stored = self.read_config()
        if stored is None:
            return {}
        old, new = _flatten(stored), _flatten(config)
        if stored.app != config.app:
            differing = ["app"]
        else:
            differing = [k for k in old if k not in RESUMABLE_FIELDS and old[k] != new.get(k)]
        if differing:
            was = ", ".join(f"{k}={_shown(old.get(k))}" for k in differing)
            asks = ", ".join(_shown(new.get(k)) for k in differing)
            raise UserError(
                f"{self.path} was trained with {was}; this run asks for {asks} (resume with "
                "the same options, or choose another output directory)", option="output")
        return {k: (old[k], new[k]) for k in sorted(RESUMABLE_FIELDS)
                if k in old and old[k] != new.get(k) and k != "output"}

    def write_record(self, config: TrainConfig, resolved: dict[str, Any],
                     changes: dict[str, tuple[Any, Any]], initial_epoch: int,
                     initial_batches: int = 0) -> None:
        """Write ``config.json`` for a new run, or add a resume entry to an existing one
        (its original settings are never overwritten)."""
        record = self.read_record()
        if record is None:
            record = {**config.to_json(), "resolved": resolved, "resumes": []}
        else:
            record.setdefault("resumes", []).append({
                "at": datetime.datetime.now().isoformat(timespec="seconds"),
                "from_epoch": initial_epoch,
                **({"from_batch": initial_batches} if initial_batches else {}),
                "changed": {k: list(v) for k, v in changes.items()},
            })
        write_json(record, self.config_path, "run record")

    def remove_interrupted_writes(self) -> list[str]:
        """Remove what killed writers left (temporary files of model.keras, pictures, JSON);
        returns their paths."""
        return [p for d in (self.path, self.samples_dir)
                for p in remove_interrupted_writes(d)]

    # ------------------------------------------------------------------------------ model
    def checkpoint(self, model: keras.Model, max_to_keep: int = 2, every: int = 1,
                   **step_settings: Any) -> ResumableCheckpoint:
        """The run's checkpoints of the full training state of ``model`` (a Keras callback,
        saving after every ``every`` epochs and the last, and with ``every_steps`` inside
        epochs too; see :class:`~tfgan_apps.callbacks.ResumableCheckpoint` for
        ``step_settings``); ``restore()`` returns the epochs already done."""
        return ResumableCheckpoint(model, self.checkpoints_dir, max_to_keep=max_to_keep,
                                   every=every, **step_settings)

    def load_model(self) -> keras.Model:
        """The model of the last finished epoch (``model.keras``, loaded with safe_mode).

        Raises:
            UserPathError: the directory or its model file does not exist.
        """
        if not os.path.isdir(self.path):
            raise UserPathError(f"run directory {self.path} does not exist; pass the output "
                                "directory of a finished training run")
        if not os.path.isfile(self.model_path):
            raise UserPathError(f"{self.model_path} not found: {self.path} is not a training "
                                "run directory, or its first epoch has not finished yet")
        return load_keras_file(self.model_path)


def load_keras_file(path: str) -> keras.Model:
    """Load a ``.keras`` model file with ``safe_mode`` (no code from the file runs).

    Raises:
        UserError: the file is not a loadable model (truncated or not a ``.keras`` archive,
            a ``Lambda`` layer or other code that safe_mode refuses, an unknown layer or
            activation): one line with Keras's reason (``TFGAN_APPS_DEBUG=1`` in the CLI shows
            the traceback).
    """
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except (ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split())  # Keras's messages span many lines
        if len(reason) > 300:
            reason = reason[:300] + " ..."
        raise UserError(f"cannot load {path}: {reason} (load only models written by "
                        "tfgan_apps training; safe_mode refuses files that carry code)") from error


def load_run_model(run_dir: str) -> keras.Model:
    """Load ``RUN_DIR/model.keras`` (see :meth:`RunDirectory.load_model`)."""
    return RunDirectory(run_dir).load_model()
