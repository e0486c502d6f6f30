"""Keras callbacks for GAN runs: resumable checkpoints, sample grids, history and curves,
atomic model snapshots.

Keras already provides TensorBoard scalars and ``TerminateOnNaN``;
:func:`tfgan_apps.training.train` combines those with the ones here.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.atomic import as_disk_error, finite_json, write_json, write_with
from tfgan_apps.errors import TrainingDivergedError
from tfgan_apps.visualize import plot_curves, save_png


class ResumableCheckpoint(keras.callbacks.Callback):
    """TensorFlow checkpoints of the whole training state, the run's source of truth.

    ``tf.train.Checkpoint(model=...)`` follows the model's attributes, so it holds the networks'
    weights, both optimizers' slots and iterations, the model's own step counter (which seeds
    the training noise) and any state variable a model keeps (e.g. CycleGAN's image pools), plus
    the epoch counter and the epoch logs so far (:attr:`history`), so everything else in a run
    directory (``model.keras``, ``history.json``, the curves, the last sample grid) can be
    rebuilt from the latest checkpoint after a crash at any moment.
    ``tf.train.CheckpointManager`` writes the index file last, so a checkpoint interrupted
    mid-write is never the "latest" one; the last ``max_to_keep`` are kept.

    A checkpoint is written after every ``every`` epochs and after the last one (a crash
    replays the epochs since the last one). With ``every_steps``, a step checkpoint
    (``directory/steps/step-G``, G the global step) is also written after every
    ``every_steps`` train steps inside an epoch; it adds the batches done in the running epoch
    and the state of the model's metric trackers, so a resumed run continues mid-epoch with
    the same epoch averages as an uninterrupted one. The last ``steps_to_keep`` are kept.

    Use :meth:`restore` before ``fit``: it returns the epochs done, and
    :attr:`resumed_batches` says how many batches of the next epoch are done too. Place it
    after the callbacks that add to the epoch logs and before those that write files derived
    from them.
    """

    def __init__(self, model: keras.Model, directory: str, max_to_keep: int = 2,
                 every: int = 1, every_steps: int | None = None, steps_to_keep: int = 1,
                 steps_per_epoch: int | None = None, epochs: int | None = None) -> None:
        super().__init__()
        self.every = max(1, int(every))
        if every_steps is not None and not steps_per_epoch:
            raise ValueError("step checkpoints need the epoch length (steps_per_epoch)")
        self.every_steps = every_steps
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._history_json = tf.Variable("", dtype=tf.string, trainable=False, name="history")
        #: ``{name: [value per epoch]}`` of the epochs done (restored with the checkpoint)
        self.history: dict[str, list[float | None]] = {}
        #: batches of epoch ``restore()`` already done (restored from a step checkpoint)
        self.resumed_batches = 0
        self.checkpoint = tf.train.Checkpoint(model=model, epoch=self.epoch,
                                              history=self._history_json)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory,
                                                  max_to_keep=max_to_keep)
        # Step checkpoints are a separate set, so epoch checkpoints stay readable by older
        # versions and keep their own retention.
        self._batches = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches")
        self._tracker_variables = [v for m in model.metrics for v in m.variables]
        self.step_checkpoint = tf.train.Checkpoint(
            model=model, epoch=self.epoch, history=self._history_json, batches=self._batches,
            trackers=list(self._tracker_variables))
        self.step_manager = tf.train.CheckpointManager(
            self.step_checkpoint, os.path.join(directory, "steps"), checkpoint_name="step",
            max_to_keep=max(1, int(steps_to_keep)))
        self._tracker_values: list[np.ndarray] | None = None
        self._epoch_index = 0
        self._batch_offset = 0

    @staticmethod
    def _number(path: str) -> int:
        return int(path.rsplit("-", 1)[1])

    def restore(self, fallback_history_path: str | None = None) -> int:
        """Restore the latest checkpoint (epoch or step) if there is one; returns the epochs
        already done (and sets :attr:`resumed_batches`).

        Args:
            fallback_history_path: ``history.json`` to read, cut to the restored epochs, when
                the checkpoint predates stored histories.
        """
        latest = self.manager.latest_checkpoint
        latest_step = self.step_manager.latest_checkpoint
        epoch_steps = self._number(latest) * (self.steps_per_epoch or 0) if latest else -1
        if latest_step and self.steps_per_epoch and self._number(latest_step) > epoch_steps:
            self.step_checkpoint.restore(latest_step).assert_existing_objects_matched()
            self.resumed_batches = int(self._batches.numpy())
            # fit resets the trackers when the epoch begins: on_epoch_begin puts these back
            self._tracker_values = [np.asarray(v) for v in self._tracker_variables]
        elif latest is not None:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        else:
            return 0
        epochs = int(self.epoch.numpy())
        stored = self._history_json.numpy().decode()
        if stored:
            self.history = json.loads(stored)
        elif fallback_history_path and os.path.isfile(fallback_history_path):
            with open(fallback_history_path) as f:
                self.history = json.load(f)
        self.history = {k: list(v)[:epochs] for k, v in self.history.items()}
        return epochs

    def latest_time(self) -> float:
        """When the latest epoch checkpoint was completed (its index file's mtime; 0 if
        none)."""
        latest = self.manager.latest_checkpoint
        return os.path.getmtime(latest + ".index") if latest else 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_index = epoch
        self._batch_offset = 0
        if self._tracker_values is not None and epoch == int(self.epoch.numpy()):
            for variable, value in zip(self._tracker_variables, self._tracker_values,
                                       strict=True):
                variable.assign(value)
            self._batch_offset = self.resumed_batches
        self._tracker_values = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self.every_steps:
            return
        done = self._batch_offset + batch + 1
        step = self._epoch_index * self.steps_per_epoch + done
        # the epoch's last batch is followed by its epoch checkpoint
        if step % self.every_steps or done >= self.steps_per_epoch:
            return
        self.epoch.assign(self._epoch_index)
        self._history_json.assign(json.dumps(self.history, allow_nan=False))
        self._batches.assign(done)
        self._save(self.step_manager, step,
                   os.path.join(self.step_manager.directory, f"step-{step}"))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            values = self.history.setdefault(name, [])
            del values[epoch:]  # a replayed epoch replaces its old entry
            values.extend([None] * (epoch - len(values)))
            values.append(finite_json(float(value)))
        last = epoch + 1 == (self.epochs or (self.params or {}).get("epochs"))
        if (epoch + 1) % self.every and not last:
            return
        self.epoch.assign(epoch + 1)
        self._history_json.assign(json.dumps(self.history, allow_nan=False))
        self._save(self.manager, epoch + 1,
                   os.path.join(self.manager.directory, f"ckpt-{epoch + 1}"))

    @staticmethod
    def _save(manager: tf.train.CheckpointManager, number: int, prefix: str) -> None:
        try:
            manager.save(checkpoint_number=number)
        except Exception as error:
            user_error = as_disk_error(error, prefix, "checkpoint")
            if user_error is None:
                raise
            # the partial files of this checkpoint would keep the disk full
            for path in glob.glob(f"{prefix}[._]*"):
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
            raise user_error from None


def first_non_finite_weight(model: keras.Model) -> str | None:
    """The path of ``model``'s first float weight holding NaN or infinity, or None."""
    for weight in model.weights:
        if (keras.backend.is_float_dtype(weight.dtype)
                and not np.isfinite(np.asarray(weight, np.float32)).all()):
            return weight.path
    return None


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop training at the first non-finite loss or metric (checked after every batch) or
    weight (after every epoch), before any later callback writes a checkpoint, a model or a
    picture from it (place it first).

    Keras's ``TerminateOnNaN`` only reads ``logs["loss"]``, which GAN models do not log.

    Raises:
        TrainingDivergedError: naming the epoch, the batch and the metric or weight.
    """

    def __init__(self) -> None:
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check_logs(logs, f"epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        where = f"the end of epoch {epoch + 1}"
        self._check_logs(logs, where)
        weight = first_non_finite_weight(self.model)
        if weight is not None:
            self._stop(where, f"weight {weight} has non-finite values")

    def _check_logs(self, logs: dict | None, where: str) -> None:
        for name, value in (logs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not np.isfinite(number):
                self._stop(where, f"{name} is {number}")

    def _stop(self, where: str, what: str) -> None:
        kept = ("no epoch had finished, so no model was saved" if self._epoch == 0 else
                "nothing from this epoch was saved: the checkpoints and model.keras of the "
                "epochs before are kept and exportable")
        raise TrainingDivergedError(f"training diverged at {where}: {what}; {kept}; train "
                                    "again into a new --output with a lower --learning-rate")


class SampleGrid(keras.callbacks.Callback):
    """Render a picture of the model's output after every ``every`` epochs.

    Writes ``directory/epoch_NNNN.png`` and, with ``log_dir``, a TensorBoard image summary.

    Args:
        render: ``model -> uint8[H, W, 3]`` picture (e.g. a fixed-noise grid, so successive
            epochs are comparable).
        directory: where the PNGs go.
        log_dir: TensorBoard log directory for the image summaries (optional).
        every: epochs between pictures.
        name: summary name.
    """

    def __init__(self, render: Callable[[keras.Model], np.ndarray], directory: str,
                 log_dir: str | None = None, every: int = 1, name: str = "samples") -> None:
        super().__init__()
        self.render = render
        self.directory = directory
        self.every = max(1, int(every))
        self.summary_name = name
        self._writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self.last_path: str | None = None

    def path_of(self, epochs_done: int) -> str | None:
        """The picture written after ``epochs_done`` epochs, or None when none is."""
        if epochs_done < 1 or epochs_done % self.every:
            return None
        return os.path.join(self.directory, f"epoch_{epochs_done:04d}.png")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        path = self.path_of(epoch + 1)
        if path is None:
            return
        picture = np.asarray(self.render(self.model))
        self.last_path = save_png(picture, path)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.summary_name, picture[None], step=epoch + 1)
            self._writer.flush()


class HistoryWriter(keras.callbacks.Callback):
    """Keep ``history.json`` and the curves PNG up to date after every epoch.

    Unlike ``keras.callbacks.History`` it starts from ``history``, the epochs before this
    ``fit`` (a resumed run's, from its checkpoint), so the curves cover the whole run.

    Args:
        history_path: JSON file, ``{name: [value per epoch]}``.
        plot_path: PNG of the curves.
        groups: panel title -> series names (see :func:`tfgan_apps.visualize.plot_curves`).
        history: the values of the epochs already done.
    """

    def __init__(self, history_path: str, plot_path: str,
                 groups: Mapping[str, Sequence[str]] | None = None,
                 history: Mapping[str, Sequence[float | None]] | None = None) -> None:
        super().__init__()
        self.history_path = history_path
        self.plot_path = plot_path
        self.groups = groups
        self.history: dict[str, list[float | None]] = {
            k: list(v) for k, v in (history or {}).items()}

    def write(self) -> None:
        """Write ``history.json`` and the curves of :attr:`history` now."""
        write_json(self.history, self.history_path, "history")
        plot_curves(self.history, self.plot_path, self.groups)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            values = self.history.setdefault(name, [])
            # On resume Keras replays from the last finished epoch: overwrite, don't append.
            del values[epoch:]
            values.extend([None] * (epoch - len(values)))
            values.append(finite_json(float(value)))
        self.write()


class ModelSnapshot(keras.callbacks.Callback):
    """Save the whole model (``.keras``: config, weights, optimizer state) after each epoch.

    The file is written next to its destination and renamed over it, so a crash mid-save never
    leaves a truncated snapshot behind.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        save_model_atomically(self.model, self.path)


def save_model_atomically(model: keras.Model, path: str) -> str:
    """``model.save(path)`` through a temporary file and an atomic rename; returns ``path``.

    Raises:
        UserError: the disk is full or read-only (the previous file at ``path`` is kept).
    """
    def save(tmp: str) -> None:
        os.remove(tmp)  # Keras refuses to overwrite silently in some versions; start clean.
        model.save(tmp)

    return write_with(path, save, "model")


class EpochMetric(keras.callbacks.Callback):
    """Add ``compute(model) -> {name: number}`` to the epoch logs after every ``every`` epochs
    (and the last), so TensorBoard, ``history.json`` and the curves record it (epochs without
    a value are ``null`` in the history).

    :func:`tfgan_apps.train` runs these before the checkpoint and the history, whatever their
    place in ``callbacks``; with a plain ``model.fit``, place them before
    :class:`HistoryWriter`. :func:`tfgan_apps.feature_metrics.fid_every` makes one for FID.
    """

    def __init__(self, compute: Callable[[keras.Model], Mapping[str, float]],
                 every: int = 1) -> None:
        super().__init__()
        self.compute = compute
        self.every = max(1, int(every))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = epoch + 1 == (self.params or {}).get("epochs")
        if logs is None or ((epoch + 1) % self.every and not last):
            return
        logs.update({k: float(v) for k, v in self.compute(self.model).items()})


class LearningRateLogger(keras.callbacks.Callback):
    """Add ``learning_rate`` (the generator optimizer's, at the end of each epoch) to the epoch
    logs, so :class:`HistoryWriter` records and plots it (e.g. CycleGAN's linear decay).

    Place it before the callbacks that read the logs.
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = getattr(self.model, "g_optimizer", None) or self.model.optimizer
        if logs is not None and optimizer is not None:
            # np.asarray: under a strategy the rate is a MirroredVariable
            logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
