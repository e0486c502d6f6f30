"""Keras callbacks for GAN runs: resumable checkpoints, sample grids, history and curves,
atomic model snapshots.

Keras already provides TensorBoard scalars and ``TerminateOnNaN``;
:func:`tfgan_apps.training.train` combines those with the ones here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.visualize import atomic_temp_path, plot_curves, save_png, write_json


class ResumableCheckpoint(keras.callbacks.Callback):
    """TensorFlow checkpoints of the whole training state after every epoch.

    ``tf.train.Checkpoint(model=...)`` follows the model's attributes, so it holds the networks'
    weights, both optimizers' slots and iterations, the model's own step counter (which seeds
    the training noise) and any state variable a model keeps (e.g. CycleGAN's image pools), plus
    the epoch counter.
    ``tf.train.CheckpointManager`` writes the index file last, so a checkpoint interrupted
    mid-write is never the "latest" one; the last ``max_to_keep`` are kept.

    A checkpoint is written after every ``every`` epochs and after the last one (a crash
    replays the epochs since the last checkpoint). Use :meth:`restore` before ``fit`` and pass
    its result as ``initial_epoch``.
    """

    def __init__(self, model: keras.Model, directory: str, max_to_keep: int = 2,
                 every: int = 1) -> None:
        super().__init__()
        self.every = max(1, int(every))
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(model=model, epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory,
                                                  max_to_keep=max_to_keep)

    def restore(self) -> int:
        """Restore the latest checkpoint if there is one; returns the epochs already done."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epoch.numpy())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = epoch + 1 == (self.params or {}).get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


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

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        picture = np.asarray(self.render(self.model))
        self.last_path = save_png(picture, os.path.join(self.directory,
                                                        f"epoch_{epoch + 1:04d}.png"))
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.summary_name, picture[None], step=epoch + 1)
            self._writer.flush()


class HistoryWriter(keras.callbacks.Callback):
    """Keep ``history.json`` and the curves PNG up to date after every epoch.

    Unlike ``keras.callbacks.History`` it reloads an existing ``history.json`` when a run is
    resumed, so the curves cover the whole run.

    Args:
        history_path: JSON file, ``{name: [value per epoch]}``.
        plot_path: PNG of the curves.
        groups: panel title -> series names (see :func:`tfgan_apps.visualize.plot_curves`).
    """

    def __init__(self, history_path: str, plot_path: str,
                 groups: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__()
        self.history_path = history_path
        self.plot_path = plot_path
        self.groups = groups
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        if os.path.exists(self.history_path):
            with open(self.history_path) as f:
                self.history = json.load(f)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            values = self.history.setdefault(name, [])
            # On resume Keras replays from the last finished epoch: overwrite, don't append.
            del values[epoch:]
            values.append(float(value))
        write_json(self.history, self.history_path)
        plot_curves(self.history, self.plot_path, self.groups)


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
    """``model.save(path)`` through a temporary file and an atomic rename; returns ``path``."""
    tmp = atomic_temp_path(path)
    os.remove(tmp)  # Keras refuses to overwrite silently in some versions; start clean.
    model.save(tmp)
    os.replace(tmp, path)
    return path


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
