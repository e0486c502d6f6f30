"""How each application trains: its datasets, model, optimizers and pictures.

:func:`tfgan_apps.training.train` is application-agnostic; everything specific to DCGAN,
pix2pix or CycleGAN that a training run needs is one :class:`Recipe` in :data:`RECIPES`. A new
application adds a recipe here (and its model, data source and export signatures elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.data.pipelines import load_generation_dataset
from tfgan_apps.models import DCGAN, AdversarialModel
from tfgan_apps.visualize import image_grid

if TYPE_CHECKING:
    from tfgan_apps.training import TrainConfig

logger = logging.getLogger(__name__)


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
        evaluate: ``(config, trained model, validation or None) -> JSON-able report or
            None``, run once after training (written to ``RUN_DIR/evaluation.json``).
    """

    datasets: Callable[[TrainConfig], tuple[tf.data.Dataset, tf.data.Dataset | None]]
    model: Callable[[TrainConfig, tf.data.Dataset], AdversarialModel]
    sample_renderer: Callable[[TrainConfig, AdversarialModel, tf.data.Dataset | None],
                              Callable[[keras.Model], np.ndarray]]
    curve_groups: dict[str, list[str]]
    compile_kwargs: Callable[[TrainConfig], dict[str, Any]] = lambda config: {}
    optimizers: Callable[[TrainConfig, int | None], Sequence] | None = None
    evaluate: Callable[[TrainConfig, AdversarialModel, tf.data.Dataset | None],
                       dict[str, Any] | None] | None = None


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


def _pix2pix_evaluate(config: TrainConfig, model: AdversarialModel,
                      validation: tf.data.Dataset | None) -> dict[str, Any] | None:
    """Segmentation: mean and per-class IoU, pixel accuracy and the confusion matrix of the
    validation split (None without one); translation: its L1 loss."""
    if validation is None:
        return None
    if config.extra["mode"] != "segmentation":
        logs = model.evaluate(validation, return_dict=True, verbose=0)
        return {"split": "validation", "l1_loss": float(logs["l1_loss"])}
    report = model.evaluate_segmentation(validation)
    names = config.extra.get("class_names") or [
        f"class_{k}" for k in range(len(report["per_class_iou"]))]
    return {
        "split": "validation",
        "mean_iou": report["mean_iou"],
        "pixel_accuracy": report["pixel_accuracy"],
        # NaN (a class absent from labels and predictions) is not JSON: None instead.
        "per_class_iou": {name: None if np.isnan(v) else v
                          for name, v in zip(names, report["per_class_iou"], strict=True)},
        "confusion_matrix": report["confusion_matrix"].tolist(),
        "class_names": list(names),
    }


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


#: The applications ``tfgan-apps train`` knows, by name.
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
        evaluate=_pix2pix_evaluate,
        curve_groups={"losses": ["d_loss", "g_loss", "g_adversarial"],
                      "reconstruction": ["ce_loss", "val_ce_loss", "l1_loss", "val_l1_loss"],
                      "IoU": ["mean_iou", "val_mean_iou", "pixel_accuracy",
                              "val_pixel_accuracy"]},
        compile_kwargs=lambda config: {"loss": config.loss},
    ),
    "cyclegan": Recipe(
        datasets=_cyclegan_datasets,
        model=_cyclegan_model,
        sample_renderer=_cyclegan_sampler,
        curve_groups={"generators": ["g_ab_loss", "g_ba_loss"],
                      "discriminators": ["d_a_loss", "d_b_loss"],
                      "reconstruction": ["cycle_loss", "identity_loss"],
                      "learning rate": ["learning_rate"]},
        compile_kwargs=lambda config: {"loss": config.loss},
        optimizers=_cyclegan_optimizers,
    ),
}
