"""Segmentation (or paired translation) with pix2pix (Isola et al. 2017): data, model,
pictures, the final per-class IoU report and export."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, ClassVar

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
from tfgan_apps.config import SMALL_DATASET_IMAGES, Pix2PixOptions, TrainConfig
from tfgan_apps.data.paired import load_pix2pix_data
from tfgan_apps.errors import UserError
from tfgan_apps.export.pix2pix import build_pix2pix_archive
from tfgan_apps.metrics import psnr, ssim
from tfgan_apps.models import AdversarialModel, Pix2Pix
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator, unet_depth
from tfgan_apps.optimizers import FusedAdam
from tfgan_apps.precision import precision_scope
from tfgan_apps.training import PreparedData
from tfgan_apps.visualize import colorize_mask, image_grid, to_uint8_images

logger = logging.getLogger(__name__)


#: where ``lr_decay="linear"`` ends: this fraction of the initial learning rate
FINAL_LEARNING_RATE_FRACTION = 0.05


def linear_decay(initial: float,
                 total_steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """A serializable linear schedule from ``initial`` at step 0 to
    ``FINAL_LEARNING_RATE_FRACTION * initial`` at step ``total_steps - 1``, the run's last
    (the optimizer's ``iterations`` count the steps already applied), constant after it."""
    return keras.optimizers.schedules.PolynomialDecay(
        initial, decay_steps=max(1, total_steps - 1),
        end_learning_rate=FINAL_LEARNING_RATE_FRACTION * initial, power=1.0)


def _train_examples(train: tf.data.Dataset, batch_size: int) -> int | None:
    """Pairs per pass of the batched training set (whole batches: what the model sees), or
    None when tf.data cannot tell."""
    batches = int(train.cardinality())
    return batches * batch_size if batches > 0 else None


class Pix2PixApplication(Application):
    """pix2pix on the built-in or a TFDS segmentation set, image + mask folders, or aligned
    A|B pairs; exports its U-Net."""

    name = "pix2pix"
    description = "segmentation (or paired translation) with pix2pix"
    model_class = Pix2Pix
    options_class = Pix2PixOptions
    default_batch_size = 16
    # Measured best on the built-in set (benchmarks/quality_pix2pix.py): G learns at 10x the
    # paper's rate, D keeps the paper's 2e-4 (a faster D only wins outright sooner).
    # 5 x 625 steps on the built-in set: 0.92 test mIoU in 8.5 minutes on 2 CPU cores
    # (benchmarks/quality_pix2pix.py --variants default, 2026-12-04).
    default_epochs = 5
    default_learning_rate = 2e-3
    default_d_learning_rate = 2e-4
    dataset_help = ("TFDS segmentation set: builtin (default, 4 classes) or oxford_iiit_pet "
                    "(0 background, 1 pet, 2 border)")
    data_dir_flag = "--images"
    data_dir_help = "folder of your images (with --masks)"
    curve_groups: ClassVar[dict[str, list[str]]] = {
        "losses": ["d_loss", "g_loss", "g_adversarial"],
        "reconstruction": ["ce_loss", "val_ce_loss", "l1_loss", "val_l1_loss"],
        "IoU": ["mean_iou", "val_mean_iou", "pixel_accuracy", "val_pixel_accuracy"],
    }
    # The defaults, shortened to 3000 steps (~5 min on 2 quiet cores); the linear decay
    # follows the shorter run. 2000 steps of the defaults gave test mIoU 0.72
    # (benchmarks/quality_pix2pix.py, 2026-12-01, one seed).
    quickstart_budget: ClassVar[dict] = {"image_size": 64, "epochs": 6, "steps_per_epoch": 500}

    def check(self, config: TrainConfig) -> None:
        options = config.options
        if (config.data_dir is None) != (options.masks_dir is None):
            raise UserError("{data_dir} and {masks_dir} go together: give the image folder and "
                            "its mask folder", mentions=("data_dir", "masks_dir"))
        if options.masks_dir is not None and options.num_classes is None:
            raise UserError("is required with {masks_dir} (the number of mask classes K)",
                            option="num_classes", mentions=("masks_dir",))
        if options.aligned_dir is not None and (config.data_dir or config.dataset):
            raise UserError("{aligned_dir} is a source of its own: give no {dataset} or "
                            "{data_dir} with it", mentions=("aligned_dir", "dataset", "data_dir"))

    def _load(self, config: TrainConfig, augment: bool) -> tuple[Any, Any, Any]:
        options = config.options
        return load_pix2pix_data(
            dataset=config.dataset, images_dir=config.data_dir, masks_dir=options.masks_dir,
            aligned_dir=options.aligned_dir, num_classes=options.num_classes,
            direction=options.direction, image_size=config.image_size,
            batch_size=config.batch_size, augment=augment, seed=config.seed,
            deterministic=config.deterministic)

    def datasets(self, config: TrainConfig) -> PreparedData:
        if config.image_size is not None:
            unet_depth(config.image_size)  # a bad size fails now, not after loading the data
        augment = config.options.augment
        train, validation, info = self._load(config, bool(augment))
        examples = _train_examples(train, config.batch_size)
        if augment is None:  # "auto": only a small set needs the jitter
            augment = examples is not None and examples < SMALL_DATASET_IMAGES
            if augment:
                train, validation, info = self._load(config, True)
        facts = dataclasses.asdict(info)
        facts.update(train_examples=examples, augment=augment)
        if facts["class_names"] is not None:
            facts["class_names"] = list(facts["class_names"])
        return PreparedData(train, validation, facts)

    def build_model(self, config: TrainConfig, data: PreparedData) -> Pix2Pix:
        options, facts = config.options, data.facts
        size, segmentation = facts["image_size"], facts["mode"] == "segmentation"
        outputs = facts["num_classes"] if segmentation else 3
        with precision_scope(config.precision):
            return Pix2Pix(
                build_unet_generator(size, 3, outputs, options.base_filters,
                                     dropout=options.dropout, max_filters=options.max_filters,
                                     output_activation=None if segmentation else "tanh",
                                     initializer=options.generator_init),
                build_patch_discriminator(size, 3, outputs,
                                          options.discriminator_filters or options.base_filters,
                                          n_layers=options.discriminator_layers),
                mode=facts["mode"], reconstruction_weight=options.reconstruction_weight,
                adversarial_weight=options.adversarial_weight,
                label_smoothing=options.label_smoothing,
                instance_noise=options.instance_noise,
                # a segmentation option: paired translation has no masks to scale
                real_mask_scaling=options.real_mask_scaling if segmentation else 0.0,
                seed=config.seed)

    def optimizers(self, config: TrainConfig, steps_per_epoch: int | None
                   ) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
        """``(d_optimizer, g_optimizer)``: Adam(beta_1 0.5) at ``d_learning_rate`` and
        ``learning_rate``; with ``lr_decay="linear"`` both decay linearly over the run's
        ``epochs * steps_per_epoch`` steps to :data:`FINAL_LEARNING_RATE_FRACTION` of their
        initial value (reached at the last step), so a run of any length ends annealed."""
        if config.options.lr_decay == "none":
            return super().optimizers(config, steps_per_epoch)
        if not steps_per_epoch:
            logger.warning("epoch length unknown: pix2pix's learning rate stays constant "
                           "(give steps_per_epoch for the linear decay)")
            return super().optimizers(config, steps_per_epoch)
        total_steps = config.epochs * steps_per_epoch
        return tuple(
            FusedAdam(linear_decay(rate, total_steps), beta_1=0.5)
            for rate in (discriminator_learning_rate(config), config.learning_rate))

    def evaluate(self, config: TrainConfig, model: AdversarialModel,
                 data: PreparedData) -> dict[str, Any] | None:
        """Segmentation: mean and per-class IoU, pixel accuracy and the confusion matrix of
        the validation split (None without one); translation: its L1 loss, and the mean PSNR
        (dB) and SSIM of the outputs against their targets."""
        if data.validation is None:
            return None
        if data.facts["mode"] != "segmentation":
            logs = model.evaluate(data.validation, return_dict=True, verbose=0)
            scores: dict[str, list[np.ndarray]] = {"psnr_db": [], "ssim": []}
            for inputs, targets in data.validation:
                outputs = model(inputs, training=False)
                scores["psnr_db"].append(psnr(outputs, targets))
                scores["ssim"].append(ssim(outputs, targets))
            return {"split": "validation", "l1_loss": float(logs["l1_loss"]),
                    **{k: float(np.concatenate(v).mean()) for k, v in scores.items()}}
        report = model.evaluate_segmentation(data.validation)
        names = data.facts.get("class_names") or [
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

    def sample_renderer(self, config: TrainConfig, model: AdversarialModel,
                        data: PreparedData) -> Callable[[keras.Model], np.ndarray]:
        """Rows of input | target | output for 8 fixed examples (masks in the fixed palette)."""
        validation = data.validation
        if validation is None:  # the same examples every epoch: un-augmented, in file order
            validation = self._load(config, augment=False)[0]
        inputs, targets = (np.asarray(t) for t in next(iter(validation.unbatch().batch(8))))
        segmentation = data.facts["mode"] == "segmentation"

        def render(m: keras.Model) -> np.ndarray:
            outputs = np.asarray(m(inputs, training=False))
            if segmentation:
                shown = [colorize_mask(targets), colorize_mask(outputs.argmax(-1))]
            else:
                shown = [targets, outputs]
            tiles = [tile for row in zip(inputs, *shown, strict=True) for tile in row]
            return image_grid(np.concatenate([to_uint8_images(t) for t in tiles]), columns=3)

        return render

    def export_archive(self, model: keras.Model, max_pixels: int | None = None
                       ) -> keras.export.ExportArchive:
        return build_pix2pix_archive(model, max_pixels)

    def signatures(self, model: keras.Model) -> dict[str, SignatureSpec]:
        images = {"images": tf.TensorSpec([None, None, None, 3], tf.uint8)}
        image_bytes = {"image_bytes": tf.TensorSpec([None], tf.string)}

        def example_uint8(m: keras.Model) -> dict[str, np.ndarray]:
            return example_images(24, 40)

        def example_bytes(m: keras.Model) -> dict[str, np.ndarray]:
            return example_image_bytes(24, 40)

        if model.mode == "segmentation":
            k = model.num_classes
            return {
                "serving_default": SignatureSpec(images, {
                    "mask": tf.TensorSpec([None, None, None], tf.int32),
                    "probabilities": tf.TensorSpec([None, None, None, k], tf.float32),
                }, example_uint8),
                "segment_image_bytes": SignatureSpec(
                    image_bytes, {"mask_png_bytes": tf.TensorSpec([None], tf.string)},
                    example_bytes),
            }
        return {
            "serving_default": SignatureSpec(
                images, {"images": tf.TensorSpec([None, None, None, 3], tf.uint8)},
                example_uint8),
            "translate_image_bytes": SignatureSpec(
                image_bytes, {"png_bytes": tf.TensorSpec([None], tf.string)}, example_bytes),
        }
