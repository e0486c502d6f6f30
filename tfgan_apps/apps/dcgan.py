"""Image generation with DCGAN (Radford et al. 2015): data, model, pictures and export."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.apps.base import Application, SignatureSpec
from tfgan_apps.config import SMALL_DATASET_IMAGES, DCGANOptions, TrainConfig
from tfgan_apps.data.pipelines import load_generation_dataset
from tfgan_apps.export.dcgan import build_dcgan_archive
from tfgan_apps.memory import scaled_network_size
from tfgan_apps.models import DCGAN, AdversarialModel
from tfgan_apps.networks import (
    build_dcgan_discriminator,
    build_dcgan_generator,
    dcgan_base_size,
)
from tfgan_apps.precision import precision_scope
from tfgan_apps.training import PreparedData
from tfgan_apps.visualize import image_grid

#: image side of a DCGAN trained on an image folder without ``image_size``
FOLDER_IMAGE_SIZE = 64


def dcgan_networks(options: DCGANOptions, image_size: int, channels: int,
                   base_filters: int | None = None) -> tuple[keras.Model, keras.Model]:
    """The generator and discriminator of ``options`` (``base_filters``: another width, for
    the memory estimate)."""
    width = options.base_filters if base_filters is None else base_filters
    generator = build_dcgan_generator(
        image_size, channels, options.latent_dim, width, kernel_size=options.kernel_size,
        upsampling=options.upsampling, stem_blocks=options.stem_blocks)
    discriminator = build_dcgan_discriminator(
        image_size, channels, width, kernel_size=options.kernel_size or 4,
        spectral_norm=options.spectral_norm, dropout=options.discriminator_dropout,
        batch_norm=options.discriminator_batch_norm)
    return generator, discriminator


def diff_augment_policy(option: str, train_examples: int | None) -> str:
    """The DiffAugment policy of option ``option``: itself, or for ``"auto"`` the full policy
    when the training set has fewer than :data:`SMALL_DATASET_IMAGES` images (an unknown
    size counts as large)."""
    if option != "auto":
        return option
    small = train_examples is not None and train_examples < SMALL_DATASET_IMAGES
    return "color,translation,cutout" if small else "none"


class DCGANApplication(Application):
    """DCGAN on a TFDS image set or a folder of images; exports its generator."""

    name = "dcgan"
    description = "image generation with DCGAN"
    model_class = DCGAN
    options_class = DCGANOptions
    default_batch_size = 64
    dataset_help = ("TFDS name: builtin (default), mnist, fashion_mnist, cifar10, celeb_a, "
                    "tfgan_shapes/generation_64, ...")
    data_dir_help = "a folder of your own images (jpg/png/bmp/gif)"
    curve_groups: ClassVar[dict[str, list[str]]] = {
        "losses": ["d_loss", "g_loss"], "discriminator": ["d_real", "d_fake"]}
    # The defaults, shortened to 900 steps.
    quickstart_budget: ClassVar[dict] = {"image_size": 32, "epochs": 6, "steps_per_epoch": 150}

    def datasets(self, config: TrainConfig) -> PreparedData:
        if config.image_size:
            dcgan_base_size(config.image_size)  # refuse e.g. 30 before preparing any data
        image_size = config.image_size or (FOLDER_IMAGE_SIZE if config.data_dir else None)
        dataset = load_generation_dataset(
            config.dataset, data_dir_images=config.data_dir, image_size=image_size,
            channels=config.options.channels, batch_size=config.batch_size, shuffle=True,
            seed=config.seed, deterministic=config.deterministic, drop_remainder=True)
        shape = dataset.element_spec.shape
        batches = int(dataset.cardinality())
        facts = {"image_size": int(shape[1]), "channels": int(shape[3]),
                 # whole batches per pass (drop_remainder) times the batch: what D sees
                 "train_examples": batches * config.batch_size if batches > 0 else None}
        facts["diff_augment"] = diff_augment_policy(config.options.diff_augment,
                                                    facts["train_examples"])
        return PreparedData(dataset, None, facts)

    def network_size(self, config: TrainConfig, data: PreparedData) -> tuple[int, int]:
        options, size, channels = config.options, data.facts["image_size"], data.facts["channels"]

        def build(width: int) -> list:
            return list(dcgan_networks(options, size, channels, width))

        # (the EMA generator is one of memory.PARAMETER_COPIES)
        return scaled_network_size(build, options.base_filters)

    def build_model(self, config: TrainConfig, data: PreparedData) -> DCGAN:
        options, size, channels = config.options, data.facts["image_size"], data.facts["channels"]
        with precision_scope(config.precision):  # the moving average is cloned in it too
            return DCGAN(
                *dcgan_networks(options, size, channels),
                ema_decay=options.ema_decay, diff_augment=data.facts["diff_augment"],
                r1_weight=options.r1_weight, generator_noise=options.generator_noise,
                seed=config.seed)

    def sample_renderer(self, config: TrainConfig, model: AdversarialModel,
                        data: PreparedData) -> Callable[[keras.Model], np.ndarray]:
        """An 8x8 grid from fixed noise, so successive epochs are comparable (drawn by the
        moving-average generator when the model keeps one)."""
        noise = model.sample_noise(64, seed=config.seed)

        def render(m: keras.Model) -> np.ndarray:
            return image_grid(m(noise, training=False).numpy(), columns=8)

        return render

    def export_archive(self, model: keras.Model, max_pixels: int | None = None
                       ) -> keras.export.ExportArchive:
        if max_pixels is not None:  # its signatures take noise vectors, never image files
            from tfgan_apps.errors import UserError

            raise UserError("does not apply to dcgan exports: their signatures take no images",
                            option="max_pixels")
        return build_dcgan_archive(model)

    def signatures(self, model: keras.Model) -> dict[str, SignatureSpec]:
        latent_dim = int(model.generator.input_shape[-1])
        height, width, channels = (int(d) for d in model.generator.output_shape[1:])
        z = {"z": tf.TensorSpec([None, latent_dim], tf.float32)}

        def example(m: keras.Model) -> dict[str, np.ndarray]:
            return {"z": np.random.default_rng(0).standard_normal((2, latent_dim), np.float32)}

        return {
            "serving_default": SignatureSpec(
                z, {"images": tf.TensorSpec([None, height, width, channels], tf.uint8)}, example),
            "generate_png": SignatureSpec(
                z, {"png_bytes": tf.TensorSpec([None], tf.string)}, example),
        }
