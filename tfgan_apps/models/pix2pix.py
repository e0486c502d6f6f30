"""pix2pix: conditional GAN for segmentation and paired image translation (Isola et al. 2017).

https://arxiv.org/abs/1611.07004. A U-Net generator maps an image to its segmentation (or to the
paired image) and a PatchGAN discriminator judges ``(input, output)`` pairs patch by patch.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.losses import (
    l1_loss,
    label_smoothed_discriminator_loss,
    pixel_cross_entropy_loss,
)
from tfgan_apps.metrics import PixelAccuracy, SegmentationMeanIoU
from tfgan_apps.models.base import AdversarialModel
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator

MODES = ("segmentation", "translation")
#: adversarial losses whose D output is a logit, the ones one-sided label smoothing applies to
LOGISTIC_LOSSES = ("non_saturating", "minimax")
#: stateless-draw streams of a train step (see AdversarialModel.step_seed)
_REAL_NOISE_STREAM, _FAKE_NOISE_STREAM = 0, 1

#: The paper's L1 weight (section 4, "lambda = 100"), kept for the segmentation cross-entropy:
#: per pixel, the CE gradient w.r.t. a logit (softmax - one_hot, |.| <= 1) has the magnitude of
#: L1's (sign, |.| = 1), so lambda = 100 keeps the paper's balance of reconstruction vs.
#: adversarial gradient. With Adam the overall scale of G's loss hardly matters; the ratio does.
DEFAULT_RECONSTRUCTION_WEIGHT = {"segmentation": 100.0, "translation": 100.0}


def scaled_one_hot(masks: tf.Tensor, probabilities: tf.Tensor, tau: float) -> tf.Tensor:
    """Luc et al. 2016's "scaling" encoding of true masks for a segmentation discriminator.

    Exactly one-hot real masks next to soft predicted ones let D win on sharpness alone; this
    gives each pixel's true class ``max(tau, p_true)`` and shares the rest over the other
    classes in proportion to the prediction, so real and generated maps differ only in
    *where* the mass is. https://arxiv.org/abs/1611.08408, section 3.1.

    Args:
        masks: int ``[batch, H, W]`` class ids in ``[0, K)``.
        probabilities: float ``[batch, H, W, K]`` predicted class probabilities (rows sum to
            1); treated as constants (no gradient flows through the real maps).
        tau: the least mass of the true class, in ``(0, 1]``; 1 gives the plain one-hot.

    Returns:
        ``[batch, H, W, K]`` of ``probabilities``' dtype, rows summing to 1.
    """
    probabilities = tf.stop_gradient(probabilities)
    one_hot = tf.one_hot(tf.cast(masks, tf.int32), probabilities.shape[-1],
                         dtype=probabilities.dtype)
    p_true = tf.reduce_sum(probabilities * one_hot, axis=-1, keepdims=True)
    true_mass = tf.maximum(tf.cast(tau, probabilities.dtype), p_true)
    # 1 - p_true is 0 only where the others' probabilities are all 0, so any floor works.
    rest = (1.0 - true_mass) / tf.maximum(1.0 - p_true, 1e-6)
    return one_hot * true_mass + (1.0 - one_hot) * probabilities * rest


@keras.saving.register_keras_serializable(package="tfgan_apps")
class Pix2Pix(AdversarialModel):
    """pix2pix, trained with ``model.fit(dataset)`` on ``(inputs, targets)`` batches.

    Two modes, chosen at construction:

    - ``"segmentation"`` (default): ``fit`` on ``(images, masks)`` with images float32
      ``[batch, S, S, C]`` in [-1, 1] and masks int32 ``[batch, S, S]`` in ``[0, K)``. The
      generator outputs K-class logits; the discriminator sees ``(image, one_hot(mask))`` as real
      and ``(image, softmax(logits))`` as fake. ``G loss = adversarial_weight * adversarial +
      reconstruction_weight * pixel cross-entropy``. Logged: ``ce_loss``, ``pixel_accuracy``,
      ``mean_iou`` (and on validation/evaluate ``iou_class_k`` for every class k).
    - ``"translation"``: ``fit`` on ``(images, targets)``, both float32 ``[batch, S, S, C]`` in
      [-1, 1]; tanh output, ``G loss = adversarial + 100 * L1`` (the paper's objective, eq. 4).
      Logged: ``l1_loss``.

    With ``adversarial_weight=0`` the discriminator is neither used nor trained: the paper's
    "L1 only" ablation (here "cross-entropy only"), i.e. a plain U-Net. Otherwise each step runs
    G once and updates D and G from that one forward pass (as TensorFlow's pix2pix tutorial; the
    reference code re-evaluates D after its update); ``d_loss``, ``g_adversarial``, ``d_real``,
    ``d_fake`` (mean D probability per patch) are logged too. The adversarial loss is the
    non-saturating one of the paper by default (``compile(loss=...)`` to change it).

    Three remedies for a discriminator that wins outright (``d_real`` -> 1, ``d_fake`` -> 0,
    G's adversarial gradient saturated), all off by default: ``label_smoothing`` s trains D
    towards ``1 - s`` on real pairs (one-sided, Salimans et al. 2016), and ``instance_noise``
    sigma adds N(0, sigma^2) to the targets D sees, real and generated alike (Sonderby et al.
    2017); in segmentation this blurs the easiest cue D has, exactly one-hot real masks vs
    soft generated ones. The noise is drawn from ``(seed, step)``, as every draw of the
    package's models, so resumed and replicated runs see the same noise. In segmentation,
    ``real_mask_scaling`` tau removes that cue at its source: D's real masks carry the true
    class at ``max(tau, p_true)`` and the rest as G predicts (:func:`scaled_one_hot`).

    Args:
        generator: functional ``[batch, S, S, C] -> [batch, S, S, K]`` (logits) or
            ``-> [batch, S, S, C']`` (tanh) model; :func:`~tfgan_apps.networks.build_unet_generator`
            is used when omitted.
        discriminator: conditional PatchGAN with inputs ``images`` and ``targets``
            (:func:`~tfgan_apps.networks.build_patch_discriminator` with ``target_channels``);
            built when omitted.
        mode: ``"segmentation"`` or ``"translation"``.
        num_classes: K (segmentation, when the networks are built here); ``>= 2``.
        image_size: S, a power of two >= 32, when the networks are built here.
        input_channels: C of the input images when built here.
        output_channels: C' of translated images when built here (translation).
        base_filters: first-layer filters of both networks when built here (the paper's 64).
        reconstruction_weight: λ; default 100 in both modes (see
            :data:`DEFAULT_RECONSTRUCTION_WEIGHT` for why the L1 weight carries over to CE).
        adversarial_weight: weight of G's adversarial term, 1 by default; 0 for the ablation.
        label_smoothing: one-sided label smoothing s in [0, 1) of D's real targets (logistic
            losses only); 0 by default (the paper's hard labels).
        instance_noise: standard deviation (>= 0) of the Gaussian noise added to D's target
            inputs; 0 by default.
        real_mask_scaling: segmentation only: tau in ``[0, 1)`` of :func:`scaled_one_hot`
            for D's real masks; 0 (default) keeps them exactly one-hot.
        seed: base seed of the instance noise (the generator's dropout draws from Keras's
            global seed).
        name: model name.

    Example:
        >>> model = Pix2Pix(mode="segmentation", num_classes=4, image_size=64, base_filters=32)
        >>> model.compile()  # Adam(2e-4, 0.5) for G and D, non-saturating loss, XLA on GPUs
        >>> model.fit(train_ds, validation_data=test_ds, epochs=10)  # (images, masks) batches
        >>> masks = model.predict_masks(images)  # int32 [batch, 64, 64]
        >>> report = model.evaluate_segmentation(test_ds)  # per-class IoU, confusion matrix
    """

    network_names = ("generator", "discriminator")

    def __init__(
        self,
        generator: keras.Model | None = None,
        discriminator: keras.Model | None = None,
        *,
        mode: str = "segmentation",
        num_classes: int | None = None,
        image_size: int = 256,
        input_channels: int = 3,
        output_channels: int = 3,
        base_filters: int = 64,
        reconstruction_weight: float | None = None,
        adversarial_weight: float = 1.0,
        label_smoothing: float = 0.0,
        instance_noise: float = 0.0,
        real_mask_scaling: float = 0.0,
        seed: int = 0,
        name: str = "pix2pix",
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise UserError(f"mode must be one of {MODES}, got {mode!r}")
        if adversarial_weight < 0:
            raise UserError(f"adversarial_weight must be >= 0, got {adversarial_weight!r}")
        if reconstruction_weight is not None and reconstruction_weight < 0:
            raise UserError(
                f"reconstruction_weight must be >= 0, got {reconstruction_weight!r}")
        if not 0 <= label_smoothing < 1:
            raise UserError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        if instance_noise < 0:
            raise UserError(f"instance_noise must be >= 0, got {instance_noise!r}")
        if not 0 <= real_mask_scaling < 1:
            raise UserError(
                f"real_mask_scaling must be in [0, 1), got {real_mask_scaling!r}")
        if real_mask_scaling and mode != "segmentation":
            raise UserError("real_mask_scaling applies to segmentation masks; set it to 0 for "
                            "translation")
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.real_mask_scaling = float(real_mask_scaling)
        # Set before the base __init__, which creates one tracker per name in tracker_names.
        self.mode = mode
        self.adversarial_weight = float(adversarial_weight)
        super().__init__(seed=seed, name=name, **kwargs)

        if generator is None:
            if mode == "segmentation":
                if num_classes is None or isinstance(num_classes, bool) or num_classes < 2:
                    raise UserError(
                        "segmentation needs num_classes >= 2 (the number of mask classes), got "
                        f"{num_classes!r}"
                    )
                output_channels, activation = int(num_classes), None
            else:
                activation = "tanh"
            generator = build_unet_generator(
                image_size, input_channels, output_channels, base_filters,
                output_activation=activation, name="unet_generator")
        self.generator = generator
        self.image_shape = tuple(int(d) for d in generator.input_shape[1:])
        self.output_image_shape = tuple(int(d) for d in generator.output_shape[1:])
        if mode == "segmentation":
            if num_classes is not None and num_classes != self.output_image_shape[-1]:
                raise ValueError(
                    f"num_classes={num_classes} but the generator outputs "
                    f"{self.output_image_shape[-1]} channels"
                )
            self.num_classes = self.output_image_shape[-1]
        else:
            self.num_classes = None
        if discriminator is None:
            discriminator = build_patch_discriminator(
                self.image_shape[0], self.image_shape[-1], self.output_image_shape[-1],
                base_filters, name="patch_discriminator")
        self.discriminator = discriminator
        expected = [self.image_shape, self.output_image_shape]
        got = [tuple(int(d) for d in shape[1:]) for shape in _input_shapes(discriminator)]
        if got != expected:
            raise ValueError(
                f"the discriminator must take (images, targets) of shapes {expected}, the "
                f"generator's input and output; it takes {got}"
            )

        self.reconstruction_weight = float(
            DEFAULT_RECONSTRUCTION_WEIGHT[mode] if reconstruction_weight is None
            else reconstruction_weight)
        if mode == "segmentation":
            self.pixel_accuracy = PixelAccuracy(self.num_classes, name="pixel_accuracy")
            self.mean_iou = SegmentationMeanIoU(self.num_classes, name="mean_iou")
        self.built = True

    # ------------------------------------------------------------------------- configuration
    @property
    def use_adversarial(self) -> bool:
        """False for the reconstruction-only ablation (``adversarial_weight == 0``)."""
        return self.adversarial_weight > 0

    @property
    def tracker_names(self) -> tuple[str, ...]:  # type: ignore[override]
        reconstruction = "ce_loss" if self.mode == "segmentation" else "l1_loss"
        if not self.use_adversarial:
            return ("g_loss", reconstruction)
        return ("d_loss", "g_loss", "g_adversarial", reconstruction, "d_real", "d_fake")

    @property
    def metrics(self) -> list:
        extra = [self.pixel_accuracy, self.mean_iou] if self.mode == "segmentation" else []
        return list(self.trackers.values()) + extra

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "reconstruction_weight": self.reconstruction_weight,
            "adversarial_weight": self.adversarial_weight,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "real_mask_scaling": self.real_mask_scaling,
        }

    def configure_losses(self, loss: str, **kwargs: Any) -> None:
        if self.label_smoothing and loss not in LOGISTIC_LOSSES:
            raise UserError(f"label_smoothing works with the logistic losses "
                            f"{list(LOGISTIC_LOSSES)}, not {loss!r}")
        super().configure_losses(loss, **kwargs)

    # ----------------------------------------------------------------------------- inference
    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``float32[batch, S, S, C]`` in [-1, 1] -> the generator's output: K-class logits
        ``float32[batch, S, S, K]`` (segmentation) or images in [-1, 1] (translation)."""
        return self.generator(images, training=training)

    def predict_probabilities(self, images: Any) -> tf.Tensor:
        """Segmentation: ``float32[batch, S, S, K]`` class probabilities (softmax)."""
        self._require_segmentation("predict_probabilities")
        return tf.nn.softmax(self(tf.convert_to_tensor(images, tf.float32), training=False))

    def predict_masks(self, images: Any) -> tf.Tensor:
        """Segmentation: ``int32[batch, S, S]`` most likely class of every pixel."""
        self._require_segmentation("predict_masks")
        logits = self(tf.convert_to_tensor(images, tf.float32), training=False)
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def _require_segmentation(self, what: str) -> None:
        if self.mode != "segmentation":
            raise UserError(f"{what} needs a segmentation model; this one is {self.mode!r}")

    # ------------------------------------------------------------------------------ training
    def _targets_for_discriminator(self, targets: tf.Tensor,
                                   generated: tf.Tensor) -> tf.Tensor:
        """The real targets D sees; ``generated`` is what it sees of G's output (softmax
        probabilities in segmentation, see :meth:`_outputs_for_discriminator`)."""
        if self.mode == "segmentation" and self.real_mask_scaling:
            return scaled_one_hot(targets, generated, self.real_mask_scaling)
        if self.mode == "segmentation":
            return tf.one_hot(tf.cast(targets, tf.int32), self.num_classes, dtype=tf.float32)
        return tf.cast(targets, tf.float32)

    def _outputs_for_discriminator(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(outputs) if self.mode == "segmentation" else outputs

    def _discriminator_inputs(self, targets: tf.Tensor, step: tf.Tensor,
                              stream: int) -> tf.Tensor:
        """``targets`` plus this step's instance noise (none when ``instance_noise`` is 0)."""
        if not self.instance_noise:
            return targets
        noise = self.replica_normal(tf.shape(targets)[0], targets.shape[1:], step, stream)
        return targets + self.instance_noise * tf.cast(noise, targets.dtype)

    def _discriminator_loss(self, real_out: tf.Tensor, fake_out: tf.Tensor) -> tf.Tensor:
        if self.label_smoothing:
            return label_smoothed_discriminator_loss(real_out, fake_out, self.label_smoothing)
        return self.adversarial_loss.discriminator(real_out, fake_out)

    def _reconstruction_loss(self, targets: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
        if self.mode == "segmentation":
            return pixel_cross_entropy_loss(targets, outputs)
        return l1_loss(tf.cast(targets, outputs.dtype), outputs)

    def _reconstruction_name(self) -> str:
        return "ce_loss" if self.mode == "segmentation" else "l1_loss"

    def train_networks(self, data: Any, step: tf.Tensor) -> dict[str, tf.Tensor]:
        images, targets = data[0], data[1]
        reconstruction_name = self._reconstruction_name()
        if not self.use_adversarial:
            with tf.GradientTape() as tape:
                outputs = self.generator(images, training=True)
                reconstruction = self._reconstruction_loss(targets, outputs)
                g_loss = self.reconstruction_weight * reconstruction
            self.optimize(tape, g_loss, self.g_optimizer, self.generator_variables())
            return self._report(targets, outputs, {"g_loss": g_loss,
                                                   reconstruction_name: reconstruction})

        score = self.adversarial_loss.score
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            outputs = self.generator(images, training=True)
            generated = self._outputs_for_discriminator(outputs)
            real_targets = self._targets_for_discriminator(targets, generated)
            real_out = self.discriminator(
                [images, self._discriminator_inputs(real_targets, step, _REAL_NOISE_STREAM)],
                training=True)
            fake_targets = self._discriminator_inputs(generated, step, _FAKE_NOISE_STREAM)
            fake_out = self.discriminator([images, fake_targets], training=True)
            d_loss = self._discriminator_loss(real_out, fake_out)
            adversarial = self.adversarial_loss.generator(fake_out)
            reconstruction = self._reconstruction_loss(targets, outputs)
            g_loss = (self.adversarial_weight * adversarial
                      + self.reconstruction_weight * reconstruction)
        self.optimize(d_tape, d_loss, self.d_optimizer, self.discriminator_variables())
        self.optimize(g_tape, g_loss, self.g_optimizer, self.generator_variables())
        return self._report(targets, outputs, {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "g_adversarial": adversarial,
            reconstruction_name: reconstruction,
            "d_real": tf.reduce_mean(score(real_out)),
            "d_fake": tf.reduce_mean(score(fake_out)),
        })

    def _report(self, targets: tf.Tensor, outputs: tf.Tensor,
                values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        logs = self.update_trackers(values)
        if self.mode == "segmentation":
            self.pixel_accuracy.update_state(targets, outputs)
            self.mean_iou.update_state(targets, outputs)
            logs["pixel_accuracy"] = self.pixel_accuracy.result()
            logs["mean_iou"] = self.mean_iou.result()
        return logs

    def test_networks(self, data: Any) -> dict[str, tf.Tensor]:
        """Validation: the reconstruction loss, and for segmentation pixel accuracy, mean IoU
        and ``iou_class_k`` (NaN for a class absent from labels and predictions so far)."""
        images, targets = data[0], data[1]
        outputs = self.generator(images, training=False)
        name = self._reconstruction_name()
        self.trackers[name].update_state(self._reconstruction_loss(targets, outputs))
        logs = {name: self.trackers[name].result()}
        if self.mode == "segmentation":
            self.pixel_accuracy.update_state(targets, outputs)
            self.mean_iou.update_state(targets, outputs)
            logs["pixel_accuracy"] = self.pixel_accuracy.result()
            logs["mean_iou"] = self.mean_iou.result()
            per_class = self.mean_iou.per_class_iou()
            for k in range(self.num_classes):
                logs[f"iou_class_{k}"] = per_class[k]
        return logs

    def evaluate_segmentation(self, dataset: Any, **evaluate_kwargs: Any) -> dict[str, Any]:
        """Evaluate on ``(images, masks)`` batches; the figures of the CLI's report.

        Returns:
            ``{"mean_iou": float, "pixel_accuracy": float, "per_class_iou": [K floats, NaN for
            a class absent from labels and predictions], "confusion_matrix": int64 [K, K]
            (rows true, columns predicted), "ce_loss": float}``.
        """
        self._require_segmentation("evaluate_segmentation")
        evaluate_kwargs.setdefault("verbose", 0)
        logs = self.evaluate(dataset, return_dict=True, **evaluate_kwargs)
        confusion = np.asarray(self.mean_iou.total.numpy()).round().astype(np.int64)
        return {
            "mean_iou": float(logs["mean_iou"]),
            "pixel_accuracy": float(logs["pixel_accuracy"]),
            "per_class_iou": [float(v) for v in self.mean_iou.per_class_iou().numpy()],
            "confusion_matrix": confusion,
            "ce_loss": float(logs["ce_loss"]),
        }


def _input_shapes(model: keras.Model) -> list:
    shapes = model.input_shape
    return list(shapes) if isinstance(shapes, list) else [shapes]
