"""Training runs: configuration, strategy and XLA selection, and ``train()``.

A run directory holds everything a run produces::

    RUN_DIR/config.json          the TrainConfig (and what was resolved from it)
    RUN_DIR/model.keras          the model after the last finished epoch (atomic)
    RUN_DIR/checkpoints/         TF checkpoints of the full training state after each epoch:
                                 re-running the same command with the same --output resumes
                                 an interrupted run (or extends a finished one to more --epochs)
    RUN_DIR/samples/epoch_NNNN.png
    RUN_DIR/history.json, RUN_DIR/loss_curves.png
    RUN_DIR/evaluation.json      the final report on the validation split, when the
                                 application has one (pix2pix: mean and per-class IoU)
    RUN_DIR/logs/                TensorBoard (scalars, sample images)

Each application contributes a :class:`~tfgan_apps.recipes.Recipe` (datasets, model, pictures)
to :data:`tfgan_apps.recipes.RECIPES`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.callbacks import (
    HistoryWriter,
    LearningRateLogger,
    ModelSnapshot,
    ResumableCheckpoint,
    SampleGrid,
)
from tfgan_apps.models import AdversarialModel
from tfgan_apps.recipes import RECIPES
from tfgan_apps.visualize import write_json

logger = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    Attributes:
        app: application, a key of ``RECIPES`` (``dcgan``).
        dataset: TFDS name (``builtin``/``tfgan_shapes/...``, ``mnist``, ...); default builtin.
        data_dir: a folder of the user's own images instead of a TFDS dataset.
        image_size: model resolution S (default: the dataset's own, 64 for folders).
        channels: 1 or 3 (default: the dataset's own, 3 for folders).
        batch_size: global batch size (split across replicas).
        epochs: number of epochs.
        steps_per_epoch: steps per epoch (default: one pass over the data).
        latent_dim: DCGAN noise length.
        base_filters: width of the networks (64 in the papers).
        output: run directory (default ``runs/<app>-<timestamp>``).
        seed: seed of weights, data order and training noise.
        strategy: ``default`` (one device) or ``mirrored`` (all GPUs, or ``devices``).
        devices: devices for ``mirrored`` (e.g. ``["/gpu:0", "/gpu:1"]``).
        xla: ``True``/``False`` forces XLA; ``None`` picks it (on for one device or GPU
            replicas, off for several CPU replicas, where TF 2.21 XLA fails).
        deterministic: deterministic ops and data order (slower).
        loss: adversarial loss (``non_saturating``, ``minimax``, ``least_squares``).
        learning_rate: Adam learning rate for both networks (beta_1 0.5).
        sample_every: epochs between sample grids.
        extra: application options (JSON-serializable): DCGAN ``upsampling``
            (``upsample``/``transpose``); pix2pix ``masks_dir``, ``aligned_dir``,
            ``num_classes``, ``direction``, weights; CycleGAN generator and loss weights.
    """

    app: str = "dcgan"
    dataset: str | None = None
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    batch_size: int = 64
    epochs: int = 5
    steps_per_epoch: int | None = None
    latent_dim: int = 100
    base_filters: int = 64
    output: str | None = None
    seed: int = 0
    strategy: str = "default"
    devices: list[str] | None = None
    xla: bool | None = None
    deterministic: bool = False
    loss: str = "non_saturating"
    learning_rate: float = 2e-4
    sample_every: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad value and how to fix it."""
        if self.app not in RECIPES:
            raise ValueError(f"unknown application {self.app!r}; choose one of {sorted(RECIPES)}")
        for name in ("batch_size", "epochs", "latent_dim", "base_filters", "sample_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("steps_per_epoch", "image_size"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.dataset and self.data_dir:
            raise ValueError("give either a dataset name or a data directory, not both")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ------------------------------------------------------------------------ strategy and XLA
_MIRRORED_STRATEGIES: dict[tuple[str, ...] | None, tf.distribute.MirroredStrategy] = {}


def make_strategy(name: str = "default", devices: Sequence[str] | None = None
                  ) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for a run.

    Args:
        name: ``default`` (the current default strategy: one device) or ``mirrored``
            (synchronous data parallelism over ``devices``, default all visible GPUs, or the
            CPU when there is none).
        devices: device names for ``mirrored``.

    One ``MirroredStrategy`` per device set is made per process and reused: a second one
    restarts TensorFlow's collective instance keys, and its all-reduces (gradients,
    synchronized batch norm) then collide with the first one's and abort with "Shape mismatch
    in the collective instance" (seen in TF 2.21 when a notebook or test trains twice).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        key = tuple(devices) if devices else None
        if key not in _MIRRORED_STRATEGIES:
            _MIRRORED_STRATEGIES[key] = tf.distribute.MirroredStrategy(
                devices=list(devices) if devices else None)
        return _MIRRORED_STRATEGIES[key]
    raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


def _replica_device_types(strategy: tf.distribute.Strategy) -> set[str]:
    devices = getattr(strategy.extended, "worker_devices", ()) or ("/cpu:0",)
    return {tf.DeviceSpec.from_string(d).device_type or "CPU" for d in devices}


def resolve_xla(requested: bool | None, strategy: tf.distribute.Strategy) -> bool:
    """Decide ``jit_compile`` explicitly (never Keras's ``"auto"``).

    XLA compiles the whole train step (about 2x faster on CPU here). Several replicas on CPU
    devices with XLA fail in TF 2.21 (a variable placed on CPU:1 is read from CPU:0), so that
    combination is refused with a clear message and not chosen by default.

    Raises:
        ValueError: XLA was requested for several replicas on CPU devices.
    """
    multi_cpu = strategy.num_replicas_in_sync > 1 and "CPU" in _replica_device_types(strategy)
    if requested is None:
        return not multi_cpu
    if requested and multi_cpu:
        raise ValueError(
            "XLA with several replicas on CPU devices fails in TensorFlow 2.21; "
            "use --no-xla with --strategy mirrored on CPU (XLA works on one device or GPUs)"
        )
    return bool(requested)


# -------------------------------------------------------------------------------- train
@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: str
    model: AdversarialModel
    history: dict[str, list[float]]
    samples_dir: str
    model_path: str
    #: the application's final evaluation (e.g. pix2pix's per-class IoU), or None
    evaluation: dict[str, Any] | None = None


def _batches_per_pass(dataset: tf.data.Dataset) -> int | None:
    """Batches in one pass over ``dataset`` when tf.data knows it, else None."""
    cardinality = int(dataset.cardinality())
    return cardinality if cardinality > 0 else None


def default_run_dir(app: str, root: str = "runs") -> str:
    """``runs/<app>-YYYYmmdd-HHMMSS``."""
    return os.path.join(root, f"{app}-{datetime.datetime.now():%Y%m%d-%H%M%S}")


def train(config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = (),
          verbose: int | str = "auto") -> TrainResult:
    """Train ``config.app`` with ``model.fit`` inside the configured strategy.

    Args:
        config: the run; validated first.
        callbacks: extra Keras callbacks.
        verbose: ``fit``'s verbosity (progress bar by default).

    Returns:
        A :class:`TrainResult`; everything is also on disk under ``result.run_dir``.
    """
    config.validate()
    recipe = RECIPES[config.app]
    run_dir = config.output or default_run_dir(config.app)
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    strategy = make_strategy(config.strategy, config.devices)
    jit_compile = resolve_xla(config.xla, strategy)
    train_data, validation = recipe.datasets(config)
    # One endless iterator over the data for the whole run (when the epoch length is known),
    # so a resumed run can skip exactly the batches already seen and continue in the same order.
    steps_per_epoch = config.steps_per_epoch or _batches_per_pass(train_data)
    if steps_per_epoch:
        train_data = train_data.repeat()

    with strategy.scope():
        model = recipe.model(config, train_data)
        optimizers = (recipe.optimizers(config, steps_per_epoch) if recipe.optimizers else
                      [keras.optimizers.Adam(config.learning_rate, beta_1=0.5) for _ in range(2)])
        model.compile(
            *optimizers,
            jit_compile=jit_compile,
            **recipe.compile_kwargs(config),
        )

    resolved = config.to_json() | {
        "resolved": {
            "replicas": strategy.num_replicas_in_sync,
            "jit_compile": jit_compile,
            "model_class": type(model).__name__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        }
    }
    write_json(resolved, os.path.join(run_dir, "config.json"))

    samples_dir = os.path.join(run_dir, "samples")
    log_dir = os.path.join(run_dir, "logs")
    model_path = os.path.join(run_dir, "model.keras")
    history = HistoryWriter(os.path.join(run_dir, "history.json"),
                            os.path.join(run_dir, "loss_curves.png"), recipe.curve_groups)
    checkpoints = ResumableCheckpoint(model, os.path.join(run_dir, "checkpoints"))
    initial_epoch = checkpoints.restore()
    if initial_epoch:
        logger.info("resuming %s after epoch %d", run_dir, initial_epoch)
        if steps_per_epoch:
            train_data = train_data.skip(initial_epoch * steps_per_epoch)
    all_callbacks = [
        checkpoints,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False),
        SampleGrid(recipe.sample_renderer(config, model, validation), samples_dir,
                   log_dir=os.path.join(log_dir, "samples"), every=config.sample_every),
        LearningRateLogger(),
        history,
        ModelSnapshot(model_path),
        *callbacks,
    ]
    logger.info("training %s in %s (%d replica(s), XLA %s)", config.app, run_dir,
                strategy.num_replicas_in_sync, "on" if jit_compile else "off")
    # shuffle=False: the tf.data pipeline already shuffles with the run's seed.
    model.fit(train_data, epochs=config.epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps_per_epoch, validation_data=validation,
              callbacks=all_callbacks, verbose=verbose, shuffle=False)
    evaluation = recipe.evaluate(config, model, validation) if recipe.evaluate else None
    if evaluation is not None:
        write_json(evaluation, os.path.join(run_dir, "evaluation.json"))
    return TrainResult(run_dir, model, history.history, samples_dir, model_path, evaluation)
