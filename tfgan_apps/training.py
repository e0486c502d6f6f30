"""Training runs: strategy and XLA selection, and the application-agnostic training loop.

:func:`run_training` trains any application (an object with the methods of
:class:`tfgan_apps.apps.Application`) with ``model.fit`` inside the configured strategy and
writes the run directory (:mod:`tfgan_apps.runs`). The public entry point is
:func:`tfgan_apps.train`, which finds the application of ``config.app``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import keras
import tensorflow as tf

from tfgan_apps.atomic import write_json
from tfgan_apps.callbacks import (
    EpochMetric,
    HistoryWriter,
    LearningRateLogger,
    ModelSnapshot,
    NonFiniteGuard,
    ResumableCheckpoint,
    SampleGrid,
    save_model_atomically,
)
from tfgan_apps.config import STRATEGIES, TrainConfig
from tfgan_apps.errors import UserError
from tfgan_apps.memory import gigabytes, physical_memory_bytes, training_bytes
from tfgan_apps.models import AdversarialModel
from tfgan_apps.report import write_report
from tfgan_apps.runs import RunDirectory, default_run_dir

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------ strategy and XLA
_MIRRORED_STRATEGIES: dict[tuple[str, ...] | None, tf.distribute.MirroredStrategy] = {}
_MULTI_WORKER_STRATEGY: list[tf.distribute.MultiWorkerMirroredStrategy] = []


def make_strategy(name: str = "default", devices: Sequence[str] | None = None
                  ) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for a run.

    Args:
        name: ``default`` (the current default strategy: one device); ``auto``
            (``mirrored`` over all visible GPUs when there are several, else ``default``);
            ``mirrored`` (synchronous data parallelism over ``devices``, default all visible
            GPUs, or the CPU when there is none); ``multiworker``
            (``MultiWorkerMirroredStrategy``: synchronous data parallelism over the machines
            that ``TF_CONFIG`` lists, each with its local GPUs or CPU). The batch size is
            always the global one, split over all replicas.
        devices: device names for ``mirrored``.

    One ``MirroredStrategy`` per device set is made per process and reused: a second one
    restarts TensorFlow's collective instance keys, and its all-reduces (gradients,
    synchronized batch norm) then collide with the first one's and abort with "Shape mismatch
    in the collective instance" (seen in TF 2.21 when a notebook or test trains twice).
    """
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise UserError("needs the cluster in the TF_CONFIG environment variable (JSON "
                            "{\"cluster\": {\"worker\": [\"host1:port\", ...]}, \"task\": "
                            "{\"type\": \"worker\", \"index\": I}}) on every worker",
                            option="strategy")
        if not _MULTI_WORKER_STRATEGY:  # one per process: it configures the collectives
            _MULTI_WORKER_STRATEGY.append(tf.distribute.MultiWorkerMirroredStrategy())
        return _MULTI_WORKER_STRATEGY[0]
    if name == "mirrored":
        key = tuple(devices) if devices else None
        if key not in _MIRRORED_STRATEGIES:
            _MIRRORED_STRATEGIES[key] = tf.distribute.MirroredStrategy(
                devices=list(devices) if devices else None)
        return _MIRRORED_STRATEGIES[key]
    raise UserError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}",
                    option="strategy")


def _replica_device_types(strategy: tf.distribute.Strategy) -> set[str]:
    try:
        devices = strategy.extended.worker_devices or ("/cpu:0",)
    except RuntimeError:  # the default strategy: TensorFlow's default device
        return {"GPU"} if tf.config.list_logical_devices("GPU") else {"CPU"}
    return {tf.DeviceSpec.from_string(d).device_type or "CPU" for d in devices}


def resolve_xla(requested: bool | None, strategy: tf.distribute.Strategy) -> bool:
    """Decide ``jit_compile`` explicitly (never Keras's ``"auto"``).

    The default (``requested`` None) is XLA on GPUs and off on CPUs: on 2 CPU cores
    TensorFlow's oneDNN kernels measured 1.04-1.9x faster than XLA for every application and
    configuration (``benchmarks/throughput.py``, TF 2.21; e.g. the default DCGAN 211 vs 149
    images/s), and XLA's first step compiles for 10-50 s. Several replicas on CPU devices
    with XLA fail in TF 2.21 (a variable placed on CPU:1 is read from CPU:0), so that
    combination is refused with a clear message.

    Raises:
        UserError: XLA was requested for several replicas on CPU devices.
    """
    devices = _replica_device_types(strategy)
    multi_cpu = strategy.num_replicas_in_sync > 1 and "CPU" in devices
    if requested is None:
        return devices == {"GPU"}
    if requested and multi_cpu:
        raise UserError(
            "with several replicas on CPU devices fails in TensorFlow 2.21; turn XLA off "
            "(xla=False, --no-xla) with the mirrored strategy on CPU (XLA works on one device "
            "or GPUs)", option="xla")
    return bool(requested)


def shard_by_data(dataset: tf.data.Dataset | None, strategy: tf.distribute.Strategy
                  ) -> tf.data.Dataset | None:
    """``dataset`` with ``AutoShardPolicy.DATA`` under multi-worker: every worker reads the
    same pipeline and keeps its replicas' part of each global batch (the default, FILE, fails
    on the one-file TFDS sets and in-memory data, and would change the order)."""
    if dataset is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


def worker_run_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """Where this process writes a run: ``path`` for the chief (and without multi-worker);
    ``path/.workers/TYPE-INDEX`` for the other workers, which train and checkpoint the same
    state there (each resumes from its own checkpoints) but never write the chief's files."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return path
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    if task_type is None or task_type == "chief" or (
            task_type == "worker" and task_id == 0 and not has_chief):
        return path
    return os.path.join(path, ".workers", f"{task_type}-{task_id}")


# -------------------------------------------------------------------------------- train
@dataclass(frozen=True)
class PreparedData:
    """An application's data for one run.

    Attributes:
        train: batched training dataset (one pass = one epoch unless ``steps_per_epoch``).
        validation: batched validation dataset, or None.
        facts: what was resolved from the data (image size, number of classes, class names,
            ...), recorded in ``config.json`` and read by the model factory.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`run_training` produced."""

    run_dir: str
    model: AdversarialModel
    history: dict[str, list[float]]
    samples_dir: str
    model_path: str
    #: the resolved config the run trained with
    config: TrainConfig | None = None
    #: the application's final evaluation (e.g. pix2pix's per-class IoU), or None
    evaluation: dict[str, Any] | None = None


class TrainingApplication(Protocol):
    """What :func:`run_training` needs of an application
    (:class:`tfgan_apps.apps.Application` implements it)."""

    curve_groups: dict[str, list[str]]

    def resolve(self, config: TrainConfig) -> TrainConfig: ...
    def check(self, config: TrainConfig) -> None: ...
    def datasets(self, config: TrainConfig) -> PreparedData: ...
    def build_model(self, config: TrainConfig, data: PreparedData) -> AdversarialModel: ...
    def optimizers(self, config: TrainConfig, steps_per_epoch: int | None) -> Sequence: ...
    def compile_kwargs(self, config: TrainConfig) -> dict[str, Any]: ...
    def sample_renderer(self, config: TrainConfig, model: AdversarialModel,
                        data: PreparedData) -> Any: ...
    def evaluate(self, config: TrainConfig, model: AdversarialModel,
                 data: PreparedData) -> dict[str, Any] | None: ...


def _batches_per_pass(dataset: tf.data.Dataset) -> int | None:
    """Batches in one pass over ``dataset`` when tf.data knows it, else None."""
    cardinality = int(dataset.cardinality())
    return cardinality if cardinality > 0 else None


def check_training_memory(application: TrainingApplication, config: TrainConfig,
                          data: PreparedData, strategy: tf.distribute.Strategy) -> None:
    """Refuse, before anything is built, networks whose estimated training memory exceeds
    this machine's RAM (when training on CPU devices; on GPUs the estimate is logged).

    Raises:
        UserError: naming the estimate, the machine's memory and the options to lower.
    """
    size = getattr(application, "network_size", lambda *_: None)(config, data)
    if size is None:
        return
    parameters, activations = size
    on_cpu = "CPU" in _replica_device_types(strategy)
    replicas = strategy.num_replicas_in_sync
    # every CPU replica holds its own copy of the parameters in the same RAM
    needed = training_bytes(parameters * (replicas if on_cpu else 1), activations,
                            config.batch_size)
    available = physical_memory_bytes()
    message = (f"an estimated {gigabytes(needed)} to train ({parameters:,} parameters with "
               f"their gradients and Adam state, and the activations of batch "
               f"{config.batch_size})")
    if not on_cpu or available is None:
        logger.info("the networks need %s", message)
        return
    if needed > available:
        raise UserError(
            f"{data.facts.get('image_size', config.image_size)} with these settings needs "
            f"{message}, more than this machine's {gigabytes(available)} of memory; lower "
            "{image_size}, {base_filters} or {batch_size}", option="image_size",
            mentions=("image_size", "base_filters", "batch_size"))


def describe_resume(path: str, epochs_done: int, epochs: int,
                    changes: dict[str, tuple[Any, Any]], batches_done: int = 0,
                    steps_per_epoch: int | None = None) -> str:
    """One line saying what re-running into an existing run directory will do."""
    changed = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
    changed = f" (changed: {changed})" if changed else ""
    if batches_done:
        return (f"resuming {path} in epoch {epochs_done + 1} after batch {batches_done} of "
                f"{steps_per_epoch}: the rest of it, then {epochs - epochs_done - 1} more "
                f"epoch(s) to {epochs}{changed}")
    if epochs_done >= epochs:
        return (f"{path} has finished {epochs_done} epoch(s), and {epochs} are asked{changed}: "
                "nothing to train; checking and completing its files")
    return (f"resuming {path} after epoch {epochs_done}: {epochs - epochs_done} more epoch(s) "
            f"to {epochs}{changed}")


def _rebuild_derived_files(run: RunDirectory, model: AdversarialModel,
                           checkpoints: ResumableCheckpoint, history: HistoryWriter,
                           grids: SampleGrid, epochs_done: int, mid_epoch: bool) -> None:
    """Make the files derived from the restored checkpoint match it: a crash may have come
    between the checkpoint and any of them (or during their writes), and a finished run that
    lacks them would otherwise never get them."""
    history.write()
    if mid_epoch:
        # A step checkpoint is only written after the previous epoch's files were completed
        # (at that epoch's end, or by the repair when its process resumed), and the model now
        # holds mid-epoch weights, which are not that epoch's model.
        return
    # A model.keras written after the latest checkpoint is that epoch's (or a later one's,
    # which the replay overwrites): keep it; an older or missing one is rebuilt.
    latest = checkpoints.latest_time()
    if not os.path.isfile(run.model_path) or os.path.getmtime(run.model_path) < latest:
        save_model_atomically(model, run.model_path)
    grid = grids.path_of(epochs_done)
    if grid is not None and not os.path.isfile(grid):
        grids.set_model(model)
        grids.on_epoch_end(epochs_done - 1)


class _StopAfterEpoch(keras.callbacks.Callback):
    """End ``fit`` after the current epoch's callbacks (``params["epochs"]`` stays the run's,
    which the callbacks that act on the last epoch read)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.model.stop_training = True


def run_training(application: TrainingApplication, config: TrainConfig,
                 callbacks: Sequence[keras.callbacks.Callback] = (),
                 verbose: int | str = "auto") -> TrainResult:
    """Train ``application`` as ``config`` says, with ``model.fit`` inside the strategy.

    The config is resolved (application defaults), validated and checked against the run
    directory's record before anything is written; ``config`` itself is never changed.

    Returns:
        A :class:`TrainResult`; everything is also on disk under ``result.run_dir``.
    """
    config = application.resolve(config)
    config.validate()
    application.check(config)
    if config.strategy == "multiworker" and not config.output:
        raise UserError("needs {output}: every worker must name the same run directory",
                        option="strategy", mentions=("output",))
    # first: MultiWorkerMirroredStrategy must configure the collectives before other TF work
    strategy = make_strategy(config.strategy, config.devices)
    run = RunDirectory(worker_run_dir(config.output or default_run_dir(config.app), strategy))
    changes = run.check_resume(config)

    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    jit_compile = resolve_xla(config.xla, strategy)
    data = application.datasets(config)
    data = PreparedData(shard_by_data(data.train, strategy),
                        shard_by_data(data.validation, strategy), data.facts)
    if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and isinstance(data.train.element_spec, tuple)):
        # Two pix2pix workers trained and matched one process in 2 of 3 runs; in the third a
        # worker failed inside the U-Net ("input depth must be evenly divisible by filter
        # depth: 3 vs 4"), cause not found: refused in one line until it is. Under load it
        # failed 2 of 10 tries with grappler's remapper on, 0 of 11 with it off (2026-12-03):
        # a lead only, too few tries to lift the refusal.
        raise UserError(f"multiworker trains DCGAN only for now: {config.app} under "
                        "MultiWorkerMirroredStrategy failed intermittently in testing; use "
                        "mirrored on one machine", option="strategy")
    train_data = data.train
    # One endless iterator over the data for the whole run (when the epoch length is known),
    # so a resumed run can skip exactly the batches already seen and continue in the same order.
    steps_per_epoch = config.steps_per_epoch or _batches_per_pass(train_data)
    if steps_per_epoch:
        train_data = train_data.repeat()
    elif config.checkpoint_every_steps:
        raise UserError("needs a known epoch length to resume mid-epoch, and the epoch "
                        "length of this dataset is unknown; give {steps_per_epoch} too",
                        option="checkpoint_every_steps", mentions=("steps_per_epoch",))

    check_training_memory(application, config, data, strategy)
    # Seeded again: preparing a dataset the first time (TFDS generation) draws from the
    # global generators, and the weights must not depend on whether it was cached.
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = application.build_model(config, data)
        model.compile(*application.optimizers(config, steps_per_epoch),
                      jit_compile=jit_compile, **application.compile_kwargs(config))

    removed = run.remove_interrupted_writes()
    checkpoints = run.checkpoint(model, max_to_keep=config.checkpoints_to_keep,
                                 every=config.checkpoint_every,
                                 every_steps=config.checkpoint_every_steps,
                                 steps_to_keep=config.step_checkpoints_to_keep,
                                 steps_per_epoch=steps_per_epoch, epochs=config.epochs)
    initial_epoch = checkpoints.restore(fallback_history_path=run.history_path)
    resumed_batches = checkpoints.resumed_batches
    run.write_record(config, {
        "replicas": strategy.num_replicas_in_sync,
        "jit_compile": jit_compile,
        "model_class": type(model).__name__,
        "data": data.facts,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }, changes, initial_epoch, resumed_batches)
    history = HistoryWriter(run.history_path, run.curves_path, application.curve_groups,
                            history=checkpoints.history)
    grids = SampleGrid(application.sample_renderer(config, model, data), run.samples_dir,
                       log_dir=f"{run.logs_dir}/samples", every=config.sample_every)
    if removed:
        logger.info("removed %d file(s) of interrupted writes in %s", len(removed), run.path)
    if initial_epoch or resumed_batches:
        logger.info(describe_resume(run.path, initial_epoch, config.epochs, changes,
                                    resumed_batches, steps_per_epoch))
        _rebuild_derived_files(run, model, checkpoints, history, grids, initial_epoch,
                               mid_epoch=bool(resumed_batches))
    epoch_metrics = [c for c in callbacks if isinstance(c, EpochMetric)]
    all_callbacks = [
        NonFiniteGuard(),  # first: nothing below may save a diverged state
        LearningRateLogger(),
        *epoch_metrics,  # before the checkpoint and history, which record the epoch logs
        checkpoints,
        history,
        grids,
        ModelSnapshot(run.model_path),
        keras.callbacks.TensorBoard(log_dir=run.logs_dir, write_graph=False),
        *[c for c in callbacks if not isinstance(c, EpochMetric)],
    ]
    logger.info("training %s in %s (%d replica(s), XLA %s)", config.app, run.path,
                strategy.num_replicas_in_sync, "on" if jit_compile else "off")
    if resumed_batches:
        # The rest of the interrupted epoch: fit cannot start an epoch at a given batch, so a
        # first fit runs that epoch's remaining batches and stops. Its data is a fresh
        # pipeline moved to the next batch, so `train_data` (whose shuffle seeds advance with
        # each iterator made from it) is still unused for the epochs after it.
        rest = shard_by_data(application.datasets(config).train, strategy).repeat().skip(
            initial_epoch * steps_per_epoch + resumed_batches)
        model.fit(rest, epochs=config.epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps_per_epoch - resumed_batches,
                  validation_data=data.validation,
                  callbacks=[*all_callbacks, _StopAfterEpoch()], verbose=verbose)
        initial_epoch += 1
    if initial_epoch and steps_per_epoch:
        train_data = train_data.skip(initial_epoch * steps_per_epoch)
    model.fit(train_data, epochs=config.epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps_per_epoch, validation_data=data.validation,
              callbacks=all_callbacks, verbose=verbose)
    evaluation = application.evaluate(config, model, data)
    if evaluation is not None:
        write_json(evaluation, run.evaluation_path, "evaluation")
    write_report(run.path)
    return TrainResult(run.path, model, history.history, run.samples_dir, run.model_path,
                       config, evaluation)
