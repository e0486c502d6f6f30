"""``Application``: everything the rest of the package asks of one GAN application.

An application module (:mod:`tfgan_apps.apps.dcgan`, ``pix2pix``, ``cyclegan``) subclasses
:class:`Application` once and is listed in :data:`tfgan_apps.apps.APPLICATIONS`. Training
(:func:`tfgan_apps.training.run_training`), export, the CLI and the quickstart go through these
methods only, so adding a fourth GAN needs a model, its export signatures and one application
module (plus its option dataclass in :mod:`tfgan_apps.config`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.config import AppOptions, TrainConfig
from tfgan_apps.models import AdversarialModel
from tfgan_apps.optimizers import FusedAdam
from tfgan_apps.training import PreparedData


@dataclass(frozen=True)
class SignatureSpec:
    """One serving signature of an export: what a TF Serving client sends and gets back.

    Attributes:
        inputs: input name -> ``tf.TensorSpec`` (``None`` dimensions: any size).
        outputs: output name -> ``tf.TensorSpec``.
        example: ``model -> {input name: numpy array}``, a valid request for that model (used
            by tests, and by warm-up records).
    """

    inputs: Mapping[str, tf.TensorSpec]
    outputs: Mapping[str, tf.TensorSpec]
    example: Callable[[keras.Model], dict[str, np.ndarray]]


def example_images(height: int, width: int, batch: int = 2) -> dict[str, np.ndarray]:
    """A request of random uint8 ``[batch, height, width, 3]`` images (input ``images``)."""
    return {"images": np.random.default_rng(0).integers(0, 256, (batch, height, width, 3),
                                                        dtype=np.uint8)}


def example_image_bytes(height: int, width: int) -> dict[str, np.ndarray]:
    """A request of one PNG file of :func:`example_images`'s first image (``image_bytes``)."""
    picture = example_images(height, width)["images"][0]
    return {"image_bytes": np.array([tf.io.encode_png(picture).numpy()], dtype=object)}


def discriminator_learning_rate(config: TrainConfig) -> float:
    """The discriminators' learning rate of a resolved config: ``d_learning_rate`` when given,
    else ``learning_rate``."""
    return config.d_learning_rate if config.d_learning_rate is not None else (
        config.learning_rate)


class Application:
    """Base class of the applications; subclasses set the class attributes and override
    :meth:`datasets`, :meth:`build_model`, :meth:`sample_renderer`, :meth:`export_archive` and
    :meth:`signatures` (and :meth:`optimizers` / :meth:`evaluate` where they differ)."""

    #: CLI name and ``TrainConfig.app``
    name: ClassVar[str] = ""
    #: one line for ``--help``
    description: ClassVar[str] = ""
    #: the model class whose instances this application exports (found by isinstance)
    model_class: ClassVar[type[AdversarialModel]] = AdversarialModel
    #: the application's options dataclass
    options_class: ClassVar[type[AppOptions]] = AppOptions
    #: batch size when the config gives none
    default_batch_size: ClassVar[int] = 64
    #: epochs when none are given
    default_epochs: ClassVar[int] = 5
    #: Adam learning rate when none is given (2e-4: all three papers')
    default_learning_rate: ClassVar[float] = 2e-4
    #: the discriminators' learning rate when none is given (None: ``learning_rate``'s)
    default_d_learning_rate: ClassVar[float | None] = None
    #: XLA when the config gives none (None: on for GPU replicas, off on CPUs; see
    #: :func:`tfgan_apps.training.resolve_xla`)
    default_xla: ClassVar[bool | None] = None
    #: CLI help of ``--dataset``
    dataset_help: ClassVar[str] = ""
    #: CLI flag and help of ``TrainConfig.data_dir`` (None: the application has no such flag)
    data_dir_flag: ClassVar[str | None] = "--data-dir"
    data_dir_help: ClassVar[str] = ""
    #: panels of ``loss_curves.png``: title -> series names
    curve_groups: ClassVar[dict[str, list[str]]] = {}
    #: the quickstart's budget: settings that differ from the defaults (run settings and
    #: options, as :meth:`TrainConfig.create` takes them)
    quickstart_budget: ClassVar[dict[str, Any]] = {}

    # ---------------------------------------------------------------------- configuration
    def resolve(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the application's defaults in place of ``None`` (batch size,
        epochs, learning rates, XLA, options); the caller's object is not changed."""
        changes: dict[str, Any] = {}
        if config.options is None:
            changes["options"] = self.options_class()
        if config.batch_size is None:
            changes["batch_size"] = self.default_batch_size
        if config.epochs is None:
            changes["epochs"] = self.default_epochs
        if config.learning_rate is None:
            changes["learning_rate"] = self.default_learning_rate
        if config.d_learning_rate is None and self.default_d_learning_rate is not None:
            changes["d_learning_rate"] = self.default_d_learning_rate
        if config.xla is None and self.default_xla is not None:
            changes["xla"] = self.default_xla
        return dataclasses.replace(config, **changes) if changes else config

    def default_config(self, **settings: Any) -> TrainConfig:
        """The resolved config of this application with ``settings`` changed."""
        return self.resolve(TrainConfig.create(self.name, **settings))

    def quickstart_config(self) -> TrainConfig:
        """The quickstart's config: the defaults plus :attr:`quickstart_budget`."""
        return self.default_config(**self.quickstart_budget)

    def check(self, config: TrainConfig) -> None:
        """Checks of a resolved config that span run settings and options (data sources);
        raise :class:`~tfgan_apps.errors.UserError`. Called before anything is loaded."""

    # --------------------------------------------------------------------------- training
    def datasets(self, config: TrainConfig) -> PreparedData:
        """The training (and validation) batches of a resolved config."""
        raise NotImplementedError

    def build_model(self, config: TrainConfig, data: PreparedData) -> AdversarialModel:
        """The uncompiled model (called inside the strategy scope)."""
        raise NotImplementedError

    def network_size(self, config: TrainConfig, data: PreparedData) -> tuple[int, int] | None:
        """``(parameters, activation values per example)`` of the networks
        :meth:`build_model` would build, estimated without building them (see
        :mod:`tfgan_apps.memory`), or None when the application has no estimate."""
        return None

    def compile_kwargs(self, config: TrainConfig) -> dict[str, Any]:
        """Extra ``model.compile`` arguments: the adversarial loss by default."""
        return {"loss": config.options.loss}

    def optimizers(self, config: TrainConfig, steps_per_epoch: int | None
                   ) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """``(d_optimizer, g_optimizer)``: Adam(beta_1 0.5), the papers', at
        ``d_learning_rate`` (when given) and ``learning_rate``."""
        return (FusedAdam(discriminator_learning_rate(config), beta_1=0.5),
                FusedAdam(config.learning_rate, beta_1=0.5))

    def sample_renderer(self, config: TrainConfig, model: AdversarialModel,
                        data: PreparedData) -> Callable[[keras.Model], np.ndarray]:
        """``model -> uint8[H, W, 3]`` picture drawn after each epoch (fixed inputs)."""
        raise NotImplementedError

    def evaluate(self, config: TrainConfig, model: AdversarialModel,
                 data: PreparedData) -> dict[str, Any] | None:
        """A JSON-able final report (``RUN_DIR/evaluation.json``), or None."""
        return None

    # ----------------------------------------------------------------------------- export
    def export_archive(self, model: keras.Model, max_pixels: int | None = None
                       ) -> keras.export.ExportArchive:
        """The ``ExportArchive`` holding this model's serving signatures.

        Args:
            model: a model of this application.
            max_pixels: the most pixels (height x width) of an image file its signatures take,
                baked into them; None: the application's default. Applications whose
                signatures take no image files refuse one (``UserError``).
        """
        raise NotImplementedError

    def signatures(self, model: keras.Model) -> dict[str, SignatureSpec]:
        """The table of the export's signatures: name -> :class:`SignatureSpec`."""
        raise NotImplementedError
