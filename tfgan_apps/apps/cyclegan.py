"""Unpaired style transfer with CycleGAN (Zhu et al. 2017): data, model, learning-rate
schedule, pictures and export."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.apps.base import (
    Application,
    SignatureSpec,
    discriminator_learning_rate,
    example_image_bytes,
    example_images,
)
from tfgan_apps.config import CycleGANOptions, TrainConfig
from tfgan_apps.data.unpaired import load_unpaired_dataset
from tfgan_apps.errors import UserError
from tfgan_apps.export.cyclegan import DIRECTIONS, build_cyclegan_archive
from tfgan_apps.models import AdversarialModel, CycleGAN, cyclegan_optimizers
from tfgan_apps.precision import precision_scope
from tfgan_apps.training import PreparedData
from tfgan_apps.visualize import image_grid

logger = logging.getLogger(__name__)


class CycleGANApplication(Application):
    """CycleGAN on the built-in day/night domains, TFDS ``cycle_gan/*`` or two folders;
    exports both generators."""

    name = "cyclegan"
    description = "unpaired style transfer with CycleGAN"
    model_class = CycleGAN
    options_class = CycleGANOptions
    default_batch_size = 1  # the paper's (instance norm)
    dataset_help = ("builtin (default: tfgan_shapes/style, day/night scenes) or "
                    "cycle_gan/<config>: horse2zebra, monet2photo, vangogh2photo, ...")
    data_dir_flag = None  # two folders: data_dir_a / data_dir_b
    curve_groups: ClassVar[dict[str, list[str]]] = {
        "generators": ["g_ab_loss", "g_ba_loss"],
        "discriminators": ["d_a_loss", "d_b_loss"],
        "reconstruction": ["cycle_loss", "identity_loss"],
        "learning rate": ["learning_rate"],
    }
    # day -> night at 64x64 with the defaults: only the budget is the quickstart's own
    quickstart_budget: ClassVar[dict] = {"image_size": 64, "epochs": 4, "steps_per_epoch": 200}

    def _load(self, config: TrainConfig, **kwargs) -> tf.data.Dataset:
        options = config.options
        return load_unpaired_dataset(config.dataset, data_dir_a=options.data_dir_a,
                                     data_dir_b=options.data_dir_b, **kwargs)

    def check(self, config: TrainConfig) -> None:
        if config.dataset and config.options.data_dir_a:
            raise UserError("give either {dataset} or the two folders {data_dir_a} and "
                            "{data_dir_b}, not both",
                            mentions=("dataset", "data_dir_a", "data_dir_b"))

    def datasets(self, config: TrainConfig) -> PreparedData:
        train = self._load(config, image_size=config.image_size, batch_size=config.batch_size,
                           augment=config.options.augment, seed=config.seed,
                           deterministic=config.deterministic)
        return PreparedData(train, None, {"image_size": int(train.element_spec[0].shape[1])})

    def build_model(self, config: TrainConfig, data: PreparedData) -> CycleGAN:
        options = config.options
        with precision_scope(config.precision):  # CycleGAN builds its four networks
            return CycleGAN(
                image_size=data.facts["image_size"], generator=options.generator,
                base_filters=options.base_filters,
                discriminator_filters=options.discriminator_filters or options.base_filters,
                num_residual_blocks=options.num_residual_blocks, upsampling=options.upsampling,
                generator_norm=options.generator_norm,
                lambda_cycle=options.lambda_cycle, lambda_identity=options.lambda_identity,
                pool_size=options.pool_size, seed=config.seed)

    def optimizers(self, config: TrainConfig, steps_per_epoch: int | None
                   ) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """Adam(lr, 0.5), constant for the first half of the epochs then linear to 0
        (the paper's schedule)."""
        if not steps_per_epoch:
            logger.warning("epoch length unknown: CycleGAN's learning rate stays constant "
                           "(give steps_per_epoch for the paper's linear decay)")
            return super().optimizers(config, steps_per_epoch)
        decay_start = config.options.decay_start_epoch
        return cyclegan_optimizers(config.epochs, steps_per_epoch,
                                   None if decay_start is None else min(decay_start,
                                                                        config.epochs),
                                   learning_rate=config.learning_rate,
                                   d_learning_rate=discriminator_learning_rate(config))

    def sample_renderer(self, config: TrainConfig, model: AdversarialModel,
                        data: PreparedData) -> Callable[[keras.Model], np.ndarray]:
        """Rows ``A | A->B | A->B->A | B | B->A | B->A->B`` for 4 fixed un-augmented pairs."""
        split = {} if config.options.data_dir_a else {"split": "test"}
        fixed = self._load(config, image_size=data.facts["image_size"], batch_size=1,
                           augment=False, shuffle=False, **split)
        a, b = (np.concatenate(x) for x in zip(*fixed.take(4).as_numpy_iterator(), strict=True))

        def render(m: keras.Model) -> np.ndarray:
            a2b = np.asarray(m.g_ab(a, training=False))
            b2a = np.asarray(m.g_ba(b, training=False))
            columns = [a, a2b, np.asarray(m.g_ba(a2b, training=False)),
                       b, b2a, np.asarray(m.g_ab(b2a, training=False))]
            tiles = [tile for row in zip(*columns, strict=True) for tile in row]
            return image_grid(np.stack(tiles), columns=6)

        return render

    def export_archive(self, model: keras.Model, max_pixels: int | None = None
                       ) -> keras.export.ExportArchive:
        return build_cyclegan_archive(model, max_pixels)

    def signatures(self, model: keras.Model) -> dict[str, SignatureSpec]:
        images = SignatureSpec(
            {"images": tf.TensorSpec([None, None, None, 3], tf.uint8)},
            {"images": tf.TensorSpec([None, None, None, 3], tf.uint8)},
            lambda m: example_images(20, 36))
        image_bytes = SignatureSpec(
            {"image_bytes": tf.TensorSpec([None], tf.string)},
            {"png_bytes": tf.TensorSpec([None], tf.string)},
            lambda m: example_image_bytes(20, 36))
        table = {"serving_default": images}
        for direction in DIRECTIONS:
            table[direction] = images
            table[f"{direction}_image_bytes"] = image_bytes
        return table
