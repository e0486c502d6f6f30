"""DCGAN: unconditional image generation (Radford et al. 2015)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.augment import differentiable_augment, parse_policy
from tfgan_apps.errors import UserError
from tfgan_apps.losses import r1_penalty
from tfgan_apps.models.base import EVALUATION_STEP, AdversarialModel, num_replicas
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator

#: how the generator's update gets its fakes (see ``DCGAN``'s ``generator_noise``)
GENERATOR_NOISE = ("fresh", "reuse")


@keras.saving.register_keras_serializable(package="tfgan_apps")
class DCGAN(AdversarialModel):
    """Deep convolutional GAN, trained with ``model.fit(images)``.

    Each ``train_step`` updates the discriminator once, then the generator once (on fresh noise
    unless ``generator_noise="reuse"``),
    and reports ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))); for
    the logistic losses D(.) is a probability, for least squares and hinge the raw score (with
    ``r1_weight`` also ``r1_penalty``). ``evaluate`` (and ``fit(validation_data=...)``) reports
    the same figures without updating anything.

    Remedies for small data and short budgets, all off by default here (the paper's DCGAN;
    the application's defaults turn on what measured better, see ``DCGANOptions``):

    - ``ema_decay``: ``generator_ema``, an exponential moving average of the generator's
      weights (Karras et al. 2018), updated after every generator step with decay
      ``min(ema_decay, (1 + t) / (10 + t))`` at step t (so a short run is not dominated by
      its random initialisation); ``call``, ``generate`` and the export use it.
    - ``diff_augment``: DiffAugment (Zhao et al. 2020) on every image D sees, real or fake,
      in both updates (:mod:`tfgan_apps.augment`).
    - ``r1_weight``: gamma of the R1 penalty ``gamma / 2 * E||grad_x D(x)||^2`` on the (augmented)
      real images (Mescheder et al. 2018).
    - spectral normalization and the hinge loss live in the discriminator and the loss
      (``build_dcgan_discriminator(spectral_norm=True)``, ``compile(loss="hinge")``); two
      time-scale learning rates in the optimizers.

    Args:
        generator: a functional model ``[batch, latent_dim] -> [batch, S, S, C]`` in [-1, 1];
            built with :func:`tfgan_apps.networks.build_dcgan_generator` when omitted.
        discriminator: ``[batch, S, S, C] -> [batch, 1]`` logits; built when omitted.
        image_size: S, when the networks are built here (28, 32, 64, 128, ...).
        channels: C, 1 or 3, when the networks are built here.
        latent_dim: noise length, when the networks are built here.
        ema_decay: decay of the generator's moving average in [0, 1); 0 keeps none.
        diff_augment: DiffAugment policy (``"none"``, ``"translation"``,
            ``"color,translation"``, ``"color,translation,cutout"``).
        r1_weight: gamma of the R1 penalty (0: none).
        generator_noise: ``"fresh"``: G's update draws a new noise batch (Goodfellow et al.
            2014, Algorithm 1; the DCGAN paper's code); ``"reuse"``: it scores the fakes D
            was just updated on, through the updated D (the PyTorch DCGAN example), which
            saves one generator forward pass per step.
        generator_ema: the moving-average generator (restored from a saved model; built as a
            copy of ``generator`` when omitted and ``ema_decay > 0``).
        seed: seed of the training noise and augmentation.

    Example:
        >>> gan = DCGAN(image_size=32, channels=3, latent_dim=64)
        >>> gan.compile()  # Adam(2e-4, 0.5) for both, non-saturating loss, XLA on GPUs
        >>> gan.fit(images_dataset, epochs=5)  # images in [-1, 1], [batch, 32, 32, 3]
        >>> samples = gan.generate(16, seed=1)  # float32 [16, 32, 32, 3] in [-1, 1]
    """

    network_names = ("generator", "discriminator", "generator_ema")
    tracker_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        generator: keras.Model | None = None,
        discriminator: keras.Model | None = None,
        *,
        image_size: int = 32,
        channels: int = 3,
        latent_dim: int = 100,
        ema_decay: float = 0.0,
        diff_augment: str = "none",
        r1_weight: float = 0.0,
        generator_noise: str = "fresh",
        generator_ema: keras.Model | None = None,
        seed: int = 0,
        name: str = "dcgan",
        **kwargs: Any,
    ) -> None:
        if not 0 <= ema_decay < 1:
            raise UserError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        if r1_weight < 0:
            raise UserError(f"r1_weight must be >= 0, got {r1_weight!r}")
        self.ema_decay = float(ema_decay)
        self.diff_augment = ",".join(parse_policy(diff_augment)) or "none"
        if generator_noise not in GENERATOR_NOISE:
            raise UserError(f"generator_noise must be one of {GENERATOR_NOISE}, got "
                            f"{generator_noise!r}")
        self.generator_noise = generator_noise
        self.r1_weight = float(r1_weight)
        if r1_weight:
            self.tracker_names = (*self.tracker_names, "r1_penalty")
        super().__init__(seed=seed, name=name, **kwargs)
        self.generator = generator or build_dcgan_generator(image_size, channels, latent_dim)
        self.discriminator = discriminator or build_dcgan_discriminator(image_size, channels)
        if self.ema_decay and generator_ema is None:
            generator_ema = keras.models.clone_model(self.generator)
            generator_ema.name = f"{self.generator.name}_ema"
            generator_ema.set_weights(self.generator.get_weights())
        self.generator_ema = generator_ema if self.ema_decay else None
        self.latent_dim = int(self.generator.input_shape[-1])
        self.image_shape = tuple(int(d) for d in self.generator.output_shape[1:])
        if tuple(self.discriminator.input_shape[1:]) != self.image_shape:
            raise ValueError(
                f"generator makes images of shape {self.image_shape} but the discriminator "
                f"expects {tuple(self.discriminator.input_shape[1:])}"
            )
        # The networks are functional and already built; so is this container.
        self.built = True

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that samples, evaluates and is exported: ``generator_ema`` when the
        model keeps a moving average, else ``generator``."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def hyperparameters(self) -> dict[str, Any]:
        return {"ema_decay": self.ema_decay, "diff_augment": self.diff_augment,
                "r1_weight": self.r1_weight, "generator_noise": self.generator_noise}

    def call(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``float32[batch, latent_dim]`` noise -> ``float32[batch, S, S, C]`` images in [-1, 1]
        (the training generator when ``training``, else :attr:`inference_generator`)."""
        generator = self.generator if training else self.inference_generator
        return generator(z, training=training)

    def sample_noise(self, num: int, seed: int = 0) -> tf.Tensor:
        """Deterministic ``float32[num, latent_dim]`` standard normal noise for ``seed``."""
        return tf.random.stateless_normal((num, self.latent_dim), seed=[seed, 0x5EED])

    def generate(self, num: int, seed: int = 0) -> tf.Tensor:
        """``num`` images ``float32[num, S, S, C]`` in [-1, 1] from the noise of ``seed``."""
        return self(self.sample_noise(num, seed), training=False)

    def train_networks(self, data: Any, step: tf.Tensor) -> dict[str, tf.Tensor]:
        real = _images(data)
        batch = tf.shape(real)[0]
        score = self.adversarial_loss.score

        z = self.replica_normal(batch, (self.latent_dim,), step, stream=0)
        if self.generator_noise == "reuse":
            # One generator pass for both updates: its tape stays open across D's update,
            # so G's gradient flows through the updated D into the fakes D was trained on.
            with tf.GradientTape(watch_accessed_variables=False) as g_tape:
                g_tape.watch([variable.value for variable in self.generator_variables()])
                fake = self.generator(z, training=True)
                d_loss, real_out, penalty = self._discriminator_update(
                    real, tf.stop_gradient(fake), step)
                fake_out = self.discriminator(self._augment(fake, step, stream=4),
                                              training=True)
                g_loss = self.adversarial_loss.generator(fake_out)
        else:
            fake = self.generator(z, training=True)
            d_loss, real_out, penalty = self._discriminator_update(real, fake, step)
            z = self.replica_normal(batch, (self.latent_dim,), step, stream=1)
            with tf.GradientTape() as g_tape:
                fake = self._augment(self.generator(z, training=True), step, stream=4)
                fake_out = self.discriminator(fake, training=True)
                g_loss = self.adversarial_loss.generator(fake_out)
        self.optimize(g_tape, g_loss, self.g_optimizer, self.generator_variables())
        if self.generator_ema is not None:
            self._update_moving_average(z, step)

        figures = {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": tf.reduce_mean(score(real_out)),
            "d_fake": tf.reduce_mean(score(fake_out)),
        }
        if self.r1_weight:
            figures["r1_penalty"] = penalty
        return self.update_trackers(figures)

    def _discriminator_update(self, real: tf.Tensor, fake: tf.Tensor, step: tf.Tensor
                              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """One D update on a replica's real and generated batch; returns the adversarial
        loss, D's outputs on the real batch and the R1 penalty (None without one)."""
        penalty = None
        with tf.GradientTape() as tape:
            real_in = self._augment(real, step, stream=2)
            if self.r1_weight:
                with tf.GradientTape() as penalty_tape:
                    penalty_tape.watch(real_in)
                    real_out = self.discriminator(real_in, training=True)
                    # Scaled like the loss (fp16: the input gradient runs through float16
                    # activations and would underflow), unscaled below; 1 without scaling.
                    scale = self.loss_scale(self.d_optimizer)
                    real_sum = tf.reduce_sum(real_out) * scale
                penalty = r1_penalty(penalty_tape.gradient(real_sum, real_in) / scale)
            else:
                real_out = self.discriminator(real_in, training=True)
            fake_out = self.discriminator(self._augment(fake, step, stream=3), training=True)
            d_loss = self.adversarial_loss.discriminator(real_out, fake_out)
            d_total = d_loss + self.r1_weight * penalty if self.r1_weight else d_loss
        self.optimize(tape, d_total, self.d_optimizer, self.discriminator_variables())
        return d_loss, real_out, penalty

    def _augment(self, images: tf.Tensor, step: tf.Tensor, stream: int) -> tf.Tensor:
        """DiffAugment of a replica's batch with the draws of the global batch's slice."""
        if self.diff_augment == "none":
            return images
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        local = tf.shape(images)[0]
        return differentiable_augment(
            images, self.step_seed(step, stream), self.diff_augment,
            batch_offset=tf.cast(replica, tf.int32) * local, global_batch=local * num_replicas())

    def _update_moving_average(self, z: tf.Tensor, step: tf.Tensor) -> None:
        """``ema <- w + decay * (ema - w)`` for every weight but batch norm's moving statistics;
        those are the average's own, updated by one forward pass of ``generator_ema`` in
        training mode (no gradient) on ``z``, the noise of G's update.

        The moving average of G's statistics is not the statistics of the averaged weights'
        activations, and the gap grows as the weights drift: at width 32 after 5567 steps the
        averaged statistics gave classifier-feature FID 18.8 against 15.6 with the average's
        own batch statistics (``benchmarks/quality_dcgan.py``). BigGAN's "standing statistics"
        fix the same mismatch after training; here it is kept up to date, so checkpoints,
        samples and exports always carry consistent statistics.

        Every replica holds the same synchronized weights and computes the same average, so
        each assigns its own copy (the variables' aggregation is "none"); the forward pass's
        batch norms are synchronized, so the statistics are the global batch's.
        """
        t = tf.cast(step, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
        own_statistics = {id(variable) for layer in _batch_norm_layers(self.generator_ema)
                          for variable in (layer.moving_mean, layer.moving_variance)}
        for average, weight in zip(self.generator_ema.weights, self.generator.weights,
                                   strict=True):
            if id(average) in own_statistics:
                continue
            value = tf.cast(weight, average.dtype)
            average.assign(value + tf.cast(decay, average.dtype) * (average - value))
        if own_statistics:
            self.generator_ema(z, training=True)

    def test_networks(self, data: Any) -> dict[str, tf.Tensor]:
        """Evaluation: ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` on the real batch
        against fakes from one noise batch (inference mode, no update of any kind).

        The noise is seeded by :data:`~tfgan_apps.models.base.EVALUATION_STEP`, never by the
        step counter: the same weights always give the same figures, and no training draw is
        repeated.
        """
        real = _images(data)
        score = self.adversarial_loss.score
        z = self.replica_normal(tf.shape(real)[0], (self.latent_dim,), EVALUATION_STEP, stream=0)
        real_out = self.discriminator(real, training=False)
        fake_out = self.discriminator(self.generator(z, training=False), training=False)
        figures = {
            "d_loss": self.adversarial_loss.discriminator(real_out, fake_out),
            "g_loss": self.adversarial_loss.generator(fake_out),
            "d_real": tf.reduce_mean(score(real_out)),
            "d_fake": tf.reduce_mean(score(fake_out)),
        }
        if self.r1_weight:  # a tracker of its own: not computed in evaluation
            figures["r1_penalty"] = tf.zeros(())
        return self.update_trackers(figures)


def _batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The batch-norm layers of ``model``, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += _batch_norm_layers(layer)
    return found


def _images(data: Any) -> tf.Tensor:
    """The images of a batch, given alone or as the first element (``(images, labels)``)."""
    return data[0] if isinstance(data, (tuple, list)) else data
