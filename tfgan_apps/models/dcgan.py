"""DCGAN: unconditional image generation (Radford et al. 2015)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.models.base import EVALUATION_STEP, AdversarialModel
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator


@keras.saving.register_keras_serializable(package="tfgan_apps")
class DCGAN(AdversarialModel):
    """Deep convolutional GAN, trained with ``model.fit(images)``.

    Each ``train_step`` updates the discriminator once, then the generator once, on fresh noise,
    and reports ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))); for
    the logistic losses D(.) is a probability, for least squares the raw score. ``evaluate`` (and
    ``fit(validation_data=...)``) reports the same four figures without updating anything.

    Args:
        generator: a functional model ``[batch, latent_dim] -> [batch, S, S, C]`` in [-1, 1];
            built with :func:`tfgan_apps.networks.build_dcgan_generator` when omitted.
        discriminator: ``[batch, S, S, C] -> [batch, 1]`` logits; built when omitted.
        image_size: S, when the networks are built here (28, 32, 64, 128, ...).
        channels: C, 1 or 3, when the networks are built here.
        latent_dim: noise length, when the networks are built here.
        seed: seed of the training noise.

    Example:
        >>> gan = DCGAN(image_size=32, channels=3, latent_dim=64)
        >>> gan.compile()  # Adam(2e-4, 0.5) for both, non-saturating loss, XLA
        >>> gan.fit(images_dataset, epochs=5)  # images in [-1, 1], [batch, 32, 32, 3]
        >>> samples = gan.generate(16, seed=1)  # float32 [16, 32, 32, 3] in [-1, 1]
    """

    network_names = ("generator", "discriminator")
    tracker_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        generator: keras.Model | None = None,
        discriminator: keras.Model | None = None,
        *,
        image_size: int = 32,
        channels: int = 3,
        latent_dim: int = 100,
        seed: int = 0,
        name: str = "dcgan",
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, name=name, **kwargs)
        self.generator = generator or build_dcgan_generator(image_size, channels, latent_dim)
        self.discriminator = discriminator or build_dcgan_discriminator(image_size, channels)
        self.latent_dim = int(self.generator.input_shape[-1])
        self.image_shape = tuple(int(d) for d in self.generator.output_shape[1:])
        if tuple(self.discriminator.input_shape[1:]) != self.image_shape:
            raise ValueError(
                f"generator makes images of shape {self.image_shape} but the discriminator "
                f"expects {tuple(self.discriminator.input_shape[1:])}"
            )
        # The networks are functional and already built; so is this container.
        self.built = True

    def call(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``float32[batch, latent_dim]`` noise -> ``float32[batch, S, S, C]`` images in [-1, 1]."""
        return self.generator(z, training=training)

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
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_out = self.discriminator(real, training=True)
            fake_out = self.discriminator(fake, training=True)
            d_loss = self.adversarial_loss.discriminator(real_out, fake_out)
        self.optimize(tape, d_loss, self.d_optimizer, self.discriminator_variables())

        z = self.replica_normal(batch, (self.latent_dim,), step, stream=1)
        with tf.GradientTape() as tape:
            fake_out = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.adversarial_loss.generator(fake_out)
        self.optimize(tape, g_loss, self.g_optimizer, self.generator_variables())

        return self.update_trackers({
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": tf.reduce_mean(score(real_out)),
            "d_fake": tf.reduce_mean(score(fake_out)),
        })

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
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
        return self.update_trackers({
            "d_loss": self.adversarial_loss.discriminator(real_out, fake_out),
            "g_loss": self.adversarial_loss.generator(fake_out),
            "d_real": tf.reduce_mean(score(real_out)),
            "d_fake": tf.reduce_mean(score(fake_out)),
        })


def _images(data: Any) -> tf.Tensor:
    """The images of a batch, given alone or as the first element (``(images, labels)``)."""
    return data[0] if isinstance(data, (tuple, list)) else data
