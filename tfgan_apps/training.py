"""Training runs: configuration, strategy and XLA selection, and ``train()``.

A run directory holds everything a run produces::

    RUN_DIR/config.json          the TrainConfig (and what was resolved from it)
    RUN_DIR/model.keras          the model after the last finished epoch (atomic)
    RUN_DIR/checkpoints/         TF checkpoints of the full training state after each epoch:
                                 re-running the same command with the same --output resumes
                                 an interrupted run (or extends a finished one to more --epochs)
    RUN_DIR/samples/epoch_NNNN.png
    RUN_DIR/history.json, RUN_DIR/loss_curves.png
    RUN_DIR/logs/                TensorBoard (scalars, sample images)

Each application contributes a :class:`Recipe` (datasets, model, pictures) to ``RECIPES``.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.callbacks import (
    HistoryWriter,
    LearningRateLogger,
    ModelSnapshot,
    ResumableCheckpoint,
    SampleGrid,
)
from tfgan_apps.data.pipelines import load_generation_dataset
from tfgan_apps.models import DCGAN, AdversarialModel
from tfgan_apps.visualize import image_grid, write_json

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


# ------------------------------------------------------------------------------ recipes
@dataclass(frozen=True)
class Recipe:
    """How one application trains.

    Attributes:
        datasets: ``config -> (train, validation or None)`` batched datasets.
        model: ``(config, train_dataset) -> compiled-ready model`` (called inside the scope).
        sample_renderer: ``(config, model, validation) -> (model -> uint8 picture)``.
        curve_groups: panels of ``loss_curves.png``.
        optimizers: ``(config, steps_per_epoch) -> (d_optimizer, g_optimizer)``; default
            Adam(learning_rate, beta_1=0.5) for both.
    """

    datasets: Callable[[TrainConfig], tuple[tf.data.Dataset, tf.data.Dataset | None]]
    model: Callable[[TrainConfig, tf.data.Dataset], AdversarialModel]
    sample_renderer: Callable[[TrainConfig, AdversarialModel, tf.data.Dataset | None],
                              Callable[[keras.Model], np.ndarray]]
    curve_groups: dict[str, list[str]]
    compile_kwargs: Callable[[TrainConfig], dict[str, Any]] = lambda config: {}
    optimizers: Callable[[TrainConfig, int | None], Sequence] | None = None


def _dcgan_datasets(config: TrainConfig) -> tuple[tf.data.Dataset, None]:
    if config.image_size:
        from tfgan_apps.networks import dcgan_base_size

        dcgan_base_size(config.image_size)  # refuse e.g. 30 before preparing any data
    image_size = config.image_size or (64 if config.data_dir else None)
    dataset = load_generation_dataset(
        config.dataset, data_dir_images=config.data_dir, image_size=image_size,
        channels=config.channels, batch_size=config.batch_size, shuffle=True, seed=config.seed,
        deterministic=config.deterministic, drop_remainder=True,
    )
    return dataset, None


def _dcgan_model(config: TrainConfig, dataset: tf.data.Dataset) -> DCGAN:
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    image_size, channels = int(spec.shape[1]), int(spec.shape[3])
    from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator

    return DCGAN(
        build_dcgan_generator(image_size, channels, config.latent_dim, config.base_filters,
                              upsampling=config.extra.get("upsampling", "upsample")),
        build_dcgan_discriminator(image_size, channels, config.base_filters),
        seed=config.seed,
    )


def _dcgan_sampler(config: TrainConfig, model: AdversarialModel, validation: Any
                   ) -> Callable[[keras.Model], np.ndarray]:
    noise = model.sample_noise(64, seed=config.seed)  # fixed: epochs are comparable

    def render(m: keras.Model) -> np.ndarray:
        return image_grid(m(noise, training=False).numpy(), columns=8)

    return render


def _pix2pix_datasets(config: TrainConfig) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    from tfgan_apps.data.paired import load_pix2pix_data
    from tfgan_apps.networks import unet_depth

    if config.image_size is not None:
        unet_depth(config.image_size)  # a bad size fails now, not after loading the data
    extra = config.extra
    train, validation, info = load_pix2pix_data(
        dataset=config.dataset, images_dir=config.data_dir, masks_dir=extra.get("masks_dir"),
        aligned_dir=extra.get("aligned_dir"), num_classes=extra.get("num_classes"),
        direction=extra.get("direction", "AtoB"), image_size=config.image_size,
        batch_size=config.batch_size, augment=extra.get("augment", True), seed=config.seed,
        deterministic=config.deterministic,
    )
    # Recorded in config.json (written after this) and read by _pix2pix_model; a new dict, as
    # configs made with dataclasses.replace share theirs.
    config.extra = {**extra, "mode": info.mode, "num_classes": info.num_classes,
                    "class_names": info.class_names}
    config.image_size = info.image_size
    return train, validation


def _pix2pix_model(config: TrainConfig, dataset: tf.data.Dataset) -> AdversarialModel:
    from tfgan_apps.models.pix2pix import Pix2Pix
    from tfgan_apps.networks import build_patch_discriminator, build_unet_generator

    extra, size = config.extra, config.image_size
    segmentation = extra["mode"] == "segmentation"
    outputs = extra["num_classes"] if segmentation else 3
    return Pix2Pix(
        build_unet_generator(size, 3, outputs, config.base_filters,
                             dropout=extra.get("dropout", 0.5),
                             output_activation=None if segmentation else "tanh"),
        build_patch_discriminator(size, 3, outputs, config.base_filters),
        mode=extra["mode"], reconstruction_weight=extra.get("reconstruction_weight"),
        adversarial_weight=extra.get("adversarial_weight", 1.0), seed=config.seed,
    )


def _pix2pix_sampler(config: TrainConfig, model: AdversarialModel, validation: Any
                     ) -> Callable[[keras.Model], np.ndarray]:
    """Rows of input | target | output for 8 fixed examples (masks in the fixed palette)."""
    from tfgan_apps.visualize import colorize_mask, to_uint8_images

    if validation is None:  # the same examples every epoch: un-augmented, in file order
        from tfgan_apps.data.paired import load_pix2pix_data

        extra = config.extra
        validation = load_pix2pix_data(
            dataset=config.dataset, images_dir=config.data_dir,
            masks_dir=extra.get("masks_dir"), aligned_dir=extra.get("aligned_dir"),
            num_classes=extra.get("num_classes"), direction=extra.get("direction", "AtoB"),
            image_size=config.image_size, batch_size=config.batch_size, augment=False,
            seed=config.seed)[0]
    inputs, targets = (np.asarray(t) for t in next(iter(validation.unbatch().batch(8))))
    segmentation = config.extra["mode"] == "segmentation"

    def render(m: keras.Model) -> np.ndarray:
        outputs = np.asarray(m(inputs, training=False))
        if segmentation:
            shown = [colorize_mask(targets), colorize_mask(outputs.argmax(-1))]
        else:
            shown = [targets, outputs]
        tiles = [tile for row in zip(inputs, *shown, strict=True) for tile in row]
        return image_grid(np.concatenate([to_uint8_images(t) for t in tiles]), columns=3)

    return render


RECIPES: dict[str, Recipe] = {
    "dcgan": Recipe(
        datasets=_dcgan_datasets,
        model=_dcgan_model,
        sample_renderer=_dcgan_sampler,
        curve_groups={"losses": ["d_loss", "g_loss"], "discriminator": ["d_real", "d_fake"]},
        compile_kwargs=lambda config: {"loss": config.loss},
    ),
    "pix2pix": Recipe(
        datasets=_pix2pix_datasets,
        model=_pix2pix_model,
        sample_renderer=_pix2pix_sampler,
        curve_groups={"losses": ["d_loss", "g_loss", "g_adversarial"],
                      "reconstruction": ["ce_loss", "val_ce_loss", "l1_loss", "val_l1_loss"],
                      "IoU": ["mean_iou", "val_mean_iou", "pixel_accuracy",
                              "val_pixel_accuracy"]},
        compile_kwargs=lambda config: {"loss": config.loss},
    ),
}


def _cyclegan_datasets(config: TrainConfig) -> tuple[tf.data.Dataset, None]:
    from tfgan_apps.data.unpaired import load_unpaired_dataset

    extra = config.extra
    train_data = load_unpaired_dataset(
        config.dataset, data_dir_a=extra.get("data_dir_a"), data_dir_b=extra.get("data_dir_b"),
        image_size=config.image_size, batch_size=config.batch_size,
        augment=extra.get("augment", True), seed=config.seed,
        deterministic=config.deterministic,
    )
    config.image_size = int(train_data.element_spec[0].shape[1])  # recorded in config.json
    return train_data, None


def _cyclegan_model(config: TrainConfig, dataset: tf.data.Dataset) -> AdversarialModel:
    from tfgan_apps.models.cyclegan import CycleGAN

    extra = config.extra
    return CycleGAN(
        image_size=config.image_size, generator=extra.get("generator", "resnet"),
        base_filters=config.base_filters,
        discriminator_filters=extra.get("discriminator_filters") or config.base_filters,
        num_residual_blocks=extra.get("residual_blocks"),
        upsampling=extra.get("upsampling", "transpose"),
        lambda_cycle=extra.get("lambda_cycle", 10.0),
        lambda_identity=extra.get("lambda_identity", 0.5),
        pool_size=extra.get("pool_size", 50), seed=config.seed,
    )


def _cyclegan_optimizers(config: TrainConfig, steps_per_epoch: int | None
                         ) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """Adam(lr, 0.5), constant for the first half of the epochs then linear to 0 (paper)."""
    from tfgan_apps.models.cyclegan import cyclegan_optimizers

    if not steps_per_epoch:
        logger.warning("epoch length unknown: CycleGAN's learning rate stays constant "
                       "(pass --steps-per-epoch for the paper's linear decay)")
        return tuple(keras.optimizers.Adam(config.learning_rate, beta_1=0.5) for _ in range(2))
    decay_start = config.extra.get("decay_start_epoch")
    return cyclegan_optimizers(config.epochs, steps_per_epoch,
                               None if decay_start is None else min(decay_start, config.epochs),
                               learning_rate=config.learning_rate)


def _cyclegan_sampler(config: TrainConfig, model: AdversarialModel, validation: Any
                      ) -> Callable[[keras.Model], np.ndarray]:
    """Rows ``A | A->B | A->B->A | B | B->A | B->A->B`` for 4 fixed un-augmented pairs."""
    from tfgan_apps.data.unpaired import load_unpaired_dataset

    extra = config.extra
    split = {} if extra.get("data_dir_a") else {"split": "test"}
    fixed = load_unpaired_dataset(
        config.dataset, data_dir_a=extra.get("data_dir_a"), data_dir_b=extra.get("data_dir_b"),
        image_size=config.image_size, batch_size=1, augment=False, shuffle=False, **split)
    a, b = (np.concatenate(x) for x in zip(*fixed.take(4).as_numpy_iterator(), strict=True))

    def render(m: keras.Model) -> np.ndarray:
        a2b = np.asarray(m.g_ab(a, training=False))
        b2a = np.asarray(m.g_ba(b, training=False))
        columns = [a, a2b, np.asarray(m.g_ba(a2b, training=False)),
                   b, b2a, np.asarray(m.g_ab(b2a, training=False))]
        tiles = [tile for row in zip(*columns, strict=True) for tile in row]
        return image_grid(np.stack(tiles), columns=6)

    return render


RECIPES["cyclegan"] = Recipe(
    datasets=_cyclegan_datasets,
    model=_cyclegan_model,
    sample_renderer=_cyclegan_sampler,
    curve_groups={"generators": ["g_ab_loss", "g_ba_loss"],
                  "discriminators": ["d_a_loss", "d_b_loss"],
                  "reconstruction": ["cycle_loss", "identity_loss"],
                  "learning rate": ["learning_rate"]},
    compile_kwargs=lambda config: {"loss": config.loss},
    optimizers=_cyclegan_optimizers,
)


# -------------------------------------------------------------------------------- train
@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: str
    model: AdversarialModel
    history: dict[str, list[float]]
    samples_dir: str
    model_path: str


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
    return TrainResult(run_dir, model, history.history, samples_dir, model_path)
