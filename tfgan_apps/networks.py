"""Pure Keras networks: functional ``keras.Model`` builders and the few custom layers.

Nothing here knows about training. Every builder returns a functional model with fixed input
shape, so the GAN classes in :mod:`tfgan_apps.models` can hold, serialize and distribute them
without subclassing quirks.
"""

from __future__ import annotations

import keras
from keras import layers

# Radford et al. 2015, section 4: "All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02". Pix2pix and CycleGAN use the same init.
GAN_WEIGHT_STDDEV = 0.02


def gan_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(0, 0.02) kernel initializer used by DCGAN, pix2pix and CycleGAN."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=GAN_WEIGHT_STDDEV, seed=seed)


def dcgan_base_size(image_size: int) -> tuple[int, int]:
    """Split ``image_size`` into ``(base, num_upsamplings)`` with ``image_size = base * 2**n``.

    The generator starts from a ``base x base`` feature map (4..7 pixels) and doubles it
    ``n >= 2`` times: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5), 48 -> (6, 3).

    Raises:
        ValueError: if no such split exists (e.g. 30 or 100).
    """
    base, n = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        n += 1
    if n < 2 or base > 7:
        raise ValueError(
            f"image size {image_size} is not supported by the DCGAN networks: it must be "
            "4, 5, 6 or 7 times a power of two, at least 16 (e.g. 28, 32, 64, 128)"
        )
    return base, n


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")


def build_dcgan_generator(
    image_size: int = 32,
    channels: int = 3,
    latent_dim: int = 100,
    base_filters: int = 64,
    kernel_size: int = 4,
    name: str = "dcgan_generator",
) -> keras.Model:
    """DCGAN generator (Radford et al. 2015, https://arxiv.org/abs/1511.06434).

    Noise -> dense projection to a ``base x base`` map -> stride-2 transposed convolutions with
    batch norm and ReLU, halving the filters each time -> tanh. No pooling, no fully connected
    hidden layers. Batch norm is ``synchronized`` so that under a distribution strategy the
    statistics are those of the global batch (one device and N replicas then train alike).

    Args:
        image_size: output height and width (28, 32, 64, 128, ...; see :func:`dcgan_base_size`).
        channels: 1 (grayscale) or 3 (RGB).
        latent_dim: length of the noise vector ``z``.
        base_filters: filters of the last hidden block; earlier blocks double it.
        kernel_size: transposed-convolution kernel (4 in the reference implementation).
        name: model name.

    Returns:
        Functional model ``float32[batch, latent_dim] -> float32[batch, S, S, C]`` in ``[-1, 1]``.
    """
    _check_channels(channels)
    base, n = dcgan_base_size(image_size)
    z = keras.Input(shape=(latent_dim,), name="z")
    filters = base_filters * 2 ** (n - 1)
    x = layers.Dense(base * base * filters, use_bias=False,
                     kernel_initializer=gan_initializer(), name="project")(z)
    x = layers.Reshape((base, base, filters), name="reshape")(x)
    x = layers.BatchNormalization(synchronized=True, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(n - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same",
                                   use_bias=False, kernel_initializer=gan_initializer(),
                                   name=f"up{i + 1}_conv")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"up{i + 1}_bn")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    x = layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same",
                               kernel_initializer=gan_initializer(), name="to_image")(x)
    # float32 output even under a mixed-precision policy: tanh saturates badly in float16.
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, images, name=name)


def build_dcgan_discriminator(
    image_size: int = 32,
    channels: int = 3,
    base_filters: int = 64,
    kernel_size: int = 4,
    name: str = "dcgan_discriminator",
) -> keras.Model:
    """DCGAN discriminator (Radford et al. 2015).

    Stride-2 convolutions (no pooling) with LeakyReLU(0.2), batch norm on every block but the
    first, doubling the filters until the map is at most 7x7, then one linear logit.

    Args:
        image_size: input height and width (same rule as the generator).
        channels: 1 or 3.
        base_filters: filters of the first block.
        kernel_size: convolution kernel size.
        name: model name.

    Returns:
        Functional model ``float32[batch, S, S, C]`` in ``[-1, 1]`` -> ``float32[batch, 1]`` logits
        (unbounded; ``sigmoid(logit)`` is D's probability that the input is real).
    """
    _check_channels(channels)
    _, n = dcgan_base_size(image_size)
    images = keras.Input(shape=(image_size, image_size, channels), name="images")
    x = images
    filters = base_filters
    for i in range(n):
        x = layers.Conv2D(filters, kernel_size, strides=2, padding="same", use_bias=i == 0,
                          kernel_initializer=gan_initializer(), name=f"down{i + 1}_conv")(x)
        if i > 0:
            x = layers.BatchNormalization(synchronized=True, name=f"down{i + 1}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
        filters *= 2
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, kernel_initializer=gan_initializer(), dtype="float32",
                          name="logit")(x)
    return keras.Model(images, logits, name=name)
