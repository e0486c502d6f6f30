"""CycleGAN: unpaired image-to-image translation (Zhu et al. 2017, https://arxiv.org/abs/1703.10593).

Two generators ``g_ab: A -> B`` and ``g_ba: B -> A``, two discriminators ``d_a`` (real A vs
translated B->A) and ``d_b`` (real B vs translated A->B), trained with

- an adversarial loss per direction: least squares (LSGAN) by default, as in the paper, or
  non-saturating (logistic);
- a cycle-consistency loss ``lambda_cycle * (|g_ba(g_ab(a)) - a|_1 + |g_ab(g_ba(b)) - b|_1)``,
  ``lambda_cycle = 10``;
- an identity loss ``lambda_identity * lambda_cycle * (|g_ab(b) - b|_1 + |g_ba(a) - a|_1)``,
  ``lambda_identity = 0.5`` (0 disables it);
- discriminators trained on real images vs **image-pool** fakes
  (:class:`~tfgan_apps.models.image_pool.ImagePool`);
- Adam(2e-4, beta_1 0.5), learning rate constant for the first half of the epochs then
  decayed linearly to 0 (:mod:`tfgan_apps.models.schedules`).

Loss scales follow the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix): its
LSGAN generator term is ``MSE(D(G(x)), 1)`` without our :mod:`tfgan_apps.losses` factor 0.5
(so it is multiplied by 2 here), and its discriminator loss is half the sum of the real and
fake terms (least squares already includes that 0.5; the logistic loss is halved here).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.losses import l1_loss
from tfgan_apps.models.base import AdversarialModel
from tfgan_apps.models.image_pool import ImagePool
from tfgan_apps.networks import (
    build_patch_discriminator,
    build_resnet_generator,
    build_unet_generator,
)

GENERATORS = ("resnet", "unet")

#: (generator, discriminator) factors bringing :mod:`tfgan_apps.losses` to the reference's scale
_REFERENCE_LOSS_SCALES = {"least_squares": (2.0, 1.0), "non_saturating": (1.0, 0.5)}

# Stream ids of the stateless random draws of one train step (see ``AdversarialModel.step_seed``).
_POOL_A_STREAM, _POOL_B_STREAM = 2, 3


def _domains(data: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """``(a, b)`` of an unpaired batch, given as a pair or as ``{"a": ..., "b": ...}``."""
    if isinstance(data, dict):
        return data["a"], data["b"]
    return data[0], data[1]


# ----------------------------------------------------------------------------------- the model


@keras.saving.register_keras_serializable(package="tfgan_apps")
class CycleGAN(AdversarialModel):
    """CycleGAN, trained with ``model.fit(dataset)`` on unpaired ``(a, b)`` batches.

    Each ``train_step`` (the reference's order) updates both generators jointly with
    ``g_optimizer`` on ``g_ab_loss + g_ba_loss + cycle_loss + identity_loss``, then both
    discriminators with ``d_optimizer`` on ``d_a_loss + d_b_loss``, where each discriminator
    sees real images against fakes drawn from its :class:`ImagePool`. ``fit`` reports those
    six figures: ``g_ab_loss`` (adversarial loss of A->B, judged by ``d_b``), ``g_ba_loss``,
    ``d_a_loss``, ``d_b_loss``, and the weighted ``cycle_loss`` and ``identity_loss``.
    ``evaluate`` (and ``fit(validation_data=...)``) reports the same six figures in inference
    mode, the discriminators judging the current fakes; it updates nothing and leaves the pools
    alone.

    Args:
        g_ab, g_ba: generators ``[batch, H, W, C]`` in [-1, 1] -> same; ResNet generators
            (:func:`tfgan_apps.networks.build_resnet_generator`, any H, W multiple of 4) are
            built when omitted.
        d_a, d_b: discriminators ``[batch, S, S, C]`` -> ``[batch, P, P, 1]`` patch scores;
            70x70 PatchGANs with instance norm are built when omitted.
        image_size: S, the training resolution (pool shape; network size when built here).
        channels: C, 1 or 3.
        generator: ``"resnet"`` (paper) or ``"unet"`` (pix2pix's U-Net with instance norm and
            no dropout, as the reference's ``--netG unet_256``; fixed size, power of two).
        base_filters: ``ngf``, filters of the generators' first layer (64 in the paper).
        discriminator_filters: ``ndf`` (64 in the paper).
        discriminator_layers: stride-2 layers of the PatchGANs (3: 70x70 patches; 2 for
            images smaller than 32 px).
        num_residual_blocks: ResNet blocks (default 9 at >= 256 px, else 6).
        upsampling: ResNet generator upsampling, ``"transpose"`` (paper) or ``"upsample"``.
        generator_norm: the generators' normalization, ``"instance"`` (paper) or ``"none"``
            (keeps each image's absolute colours; see
            :func:`~tfgan_apps.networks.build_resnet_generator`).
        lambda_cycle: weight of the cycle-consistency loss (10).
        lambda_identity: identity-loss weight as a fraction of `lambda_cycle` (0.5; 0 disables).
        pool_size: images per :class:`ImagePool` (50; 0 feeds the newest fakes directly).
        seed: seed of the pools' random choices (with the step counter).

    Example:
        >>> gan = CycleGAN(image_size=64, base_filters=32)
        >>> gan.compile(*cyclegan_optimizers(epochs=20, steps_per_epoch=500))  # LSGAN, XLA
        >>> gan.fit(unpaired_ds, epochs=20)  # (a, b) float32 [batch, 64, 64, 3] in [-1, 1]
        >>> zebras = gan.translate_a2b(horses)  # any [batch, H, W, 3], H, W multiples of 4
    """

    network_names = ("g_ab", "g_ba", "d_a", "d_b")
    default_loss = "least_squares"  # LSGAN, the paper's
    supported_losses = tuple(_REFERENCE_LOSS_SCALES)
    tracker_names = ("g_ab_loss", "g_ba_loss", "d_a_loss", "d_b_loss", "cycle_loss",
                     "identity_loss")

    def __init__(
        self,
        g_ab: keras.Model | None = None,
        g_ba: keras.Model | None = None,
        d_a: keras.Model | None = None,
        d_b: keras.Model | None = None,
        *,
        image_size: int = 256,
        channels: int = 3,
        generator: str = "resnet",
        base_filters: int = 64,
        discriminator_filters: int = 64,
        discriminator_layers: int = 3,
        num_residual_blocks: int | None = None,
        upsampling: str = "transpose",
        generator_norm: str = "instance",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        seed: int = 0,
        name: str = "cyclegan",
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, name=name, **kwargs)
        if generator not in GENERATORS:
            raise UserError(f"generator must be one of {GENERATORS}, got {generator!r}")
        if lambda_cycle < 0 or lambda_identity < 0:
            raise UserError(
                f"lambda_cycle and lambda_identity must be >= 0, got {lambda_cycle}, "
                f"{lambda_identity}")

        def build_generator(name: str) -> keras.Model:
            if generator == "unet":
                return build_unet_generator(image_size, channels, channels, base_filters,
                                            norm=generator_norm, dropout=0.0, name=name)
            return build_resnet_generator(image_size, channels, base_filters,
                                          num_residual_blocks, upsampling=upsampling,
                                          norm=generator_norm, name=name)

        def build_discriminator(name: str) -> keras.Model:
            return build_patch_discriminator(image_size, channels, None, discriminator_filters,
                                             n_layers=discriminator_layers, norm="instance",
                                             name=name)

        self.g_ab = g_ab or build_generator("g_ab")
        self.g_ba = g_ba or build_generator("g_ba")
        self.d_a = d_a or build_discriminator("d_a")
        self.d_b = d_b or build_discriminator("d_b")
        self.image_shape = self._training_shape(image_size, channels)
        self.lambda_cycle = float(lambda_cycle)
        self.lambda_identity = float(lambda_identity)
        self.pool_a = ImagePool(pool_size, self.image_shape, name="pool_a")
        self.pool_b = ImagePool(pool_size, self.image_shape, name="pool_b")
        self.built = True

    def _training_shape(self, image_size: int, channels: int) -> tuple[int, int, int]:
        """``(S, S, C)`` read from the discriminators (fixed shape), checked against the rest."""
        shape = tuple(self.d_a.input_shape[1:])
        if None in shape:
            shape = (image_size, image_size, channels)
        if tuple(self.d_b.input_shape[1:]) != tuple(self.d_a.input_shape[1:]):
            raise ValueError(f"d_a takes {self.d_a.input_shape[1:]} but d_b "
                             f"{self.d_b.input_shape[1:]}: they must take the same images")
        for g in (self.g_ab, self.g_ba):
            g_shapes = tuple(g.input_shape[1:]) + tuple(g.output_shape[1:])
            compatible = all(d is None or d == s
                             for d, s in zip(g_shapes, shape + shape, strict=True))
            if not compatible:
                raise ValueError(
                    f"generator {g.name} maps {g.input_shape[1:]} -> {g.output_shape[1:]} but "
                    f"the discriminators take {shape}: all four networks must work at the same "
                    "image size")
        return tuple(int(d) for d in shape)

    # ---------------------------------------------------------------------------- compile
    def discriminator_variables(self) -> list:
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def generator_variables(self) -> list:
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    # ---------------------------------------------------------------------------- inference
    def call(self, images: tf.Tensor, direction: str = "a2b", training: bool = False
             ) -> tf.Tensor:
        """Translate ``float32[batch, H, W, C]`` in [-1, 1] from A to B (``direction="a2b"``)
        or from B to A (``"b2a"``); returns the same shape in [-1, 1]. For the ResNet
        generator H and W may be any multiples of 4 (see :mod:`tfgan_apps.inference` for any
        size and for tiling)."""
        if direction == "a2b":
            return self.g_ab(images, training=training)
        if direction == "b2a":
            return self.g_ba(images, training=training)
        raise UserError(f"direction must be 'a2b' or 'b2a', got {direction!r}")

    def translate_a2b(self, images: Any) -> tf.Tensor:
        """A -> B: ``float32[batch, H, W, C]`` in [-1, 1] -> same shape in [-1, 1]."""
        return self(tf.convert_to_tensor(images, tf.float32), direction="a2b")

    def translate_b2a(self, images: Any) -> tf.Tensor:
        """B -> A: ``float32[batch, H, W, C]`` in [-1, 1] -> same shape in [-1, 1]."""
        return self(tf.convert_to_tensor(images, tf.float32), direction="b2a")

    # -------------------------------------------------------------------------- train_step
    def train_networks(self, data: Any, step: tf.Tensor) -> dict[str, tf.Tensor]:
        real_a, real_b = _domains(data)
        with tf.GradientTape() as tape:
            fake_a, fake_b, g_losses = self._generator_losses(real_a, real_b, training=True)
            g_loss = (g_losses["g_ab_loss"] + g_losses["g_ba_loss"] + g_losses["cycle_loss"]
                      + g_losses["identity_loss"])
        self.optimize(tape, g_loss, self.g_optimizer, self.generator_variables())

        pooled_a = self.pool_a(tf.stop_gradient(fake_a), self.step_seed(step, _POOL_A_STREAM))
        pooled_b = self.pool_b(tf.stop_gradient(fake_b), self.step_seed(step, _POOL_B_STREAM))
        with tf.GradientTape() as tape:
            d_losses = self._discriminator_losses(real_a, real_b, pooled_a, pooled_b,
                                                  training=True)
            d_loss = d_losses["d_a_loss"] + d_losses["d_b_loss"]
        self.optimize(tape, d_loss, self.d_optimizer, self.discriminator_variables())
        return self.update_trackers({**g_losses, **d_losses})

    def test_networks(self, data: Any) -> dict[str, tf.Tensor]:
        """Evaluation: the six training figures in inference mode, the discriminators judging
        the current fakes (not the pools'); no update, no pool write."""
        real_a, real_b = _domains(data)
        fake_a, fake_b, g_losses = self._generator_losses(real_a, real_b, training=False)
        d_losses = self._discriminator_losses(real_a, real_b, fake_a, fake_b, training=False)
        return self.update_trackers({**g_losses, **d_losses})

    def _generator_losses(self, real_a: tf.Tensor, real_b: tf.Tensor, training: bool
                          ) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """``(fake_a, fake_b, {g_ab_loss, g_ba_loss, cycle_loss, identity_loss})``, the terms
        of the generators' objective at the reference's scale (their sum is G's loss)."""
        g_scale, _ = _REFERENCE_LOSS_SCALES[self.loss_name]
        adversarial = self.adversarial_loss
        fake_b = self.g_ab(real_a, training=training)
        fake_a = self.g_ba(real_b, training=training)
        g_ab_loss = g_scale * adversarial.generator(self.d_b(fake_b, training=training))
        g_ba_loss = g_scale * adversarial.generator(self.d_a(fake_a, training=training))
        cycle_loss = self.lambda_cycle * (
            l1_loss(real_a, self.g_ba(fake_b, training=training))
            + l1_loss(real_b, self.g_ab(fake_a, training=training)))
        if self.lambda_identity > 0:
            identity_loss = self.lambda_cycle * self.lambda_identity * (
                l1_loss(real_b, self.g_ab(real_b, training=training))
                + l1_loss(real_a, self.g_ba(real_a, training=training)))
        else:
            identity_loss = tf.zeros((), tf.float32)
        return fake_a, fake_b, {"g_ab_loss": g_ab_loss, "g_ba_loss": g_ba_loss,
                                "cycle_loss": cycle_loss, "identity_loss": identity_loss}

    def _discriminator_losses(self, real_a: tf.Tensor, real_b: tf.Tensor, fake_a: tf.Tensor,
                              fake_b: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """``{d_a_loss, d_b_loss}``: each discriminator, real images against ``fake_*``."""
        _, d_scale = _REFERENCE_LOSS_SCALES[self.loss_name]
        adversarial = self.adversarial_loss
        return {
            "d_a_loss": d_scale * adversarial.discriminator(
                self.d_a(real_a, training=training), self.d_a(fake_a, training=training)),
            "d_b_loss": d_scale * adversarial.discriminator(
                self.d_b(real_b, training=training), self.d_b(fake_b, training=training)),
        }

    # ------------------------------------------------------------------------ serialization
    def hyperparameters(self) -> dict[str, Any]:
        return {
            "image_size": self.image_shape[0],
            "channels": self.image_shape[2],
            "lambda_cycle": self.lambda_cycle,
            "lambda_identity": self.lambda_identity,
            "pool_size": self.pool_a.pool_size,
        }
