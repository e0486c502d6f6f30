"""DCGAN networks: shapes and value ranges at every supported size, serialization."""

from __future__ import annotations

import numpy as np
import pytest

from tfgan_apps.errors import UserError
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator, dcgan_base_size


@pytest.mark.parametrize("image_size", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("upsampling", ["upsample", "transpose"])
def test_dcgan_networks_shapes_and_ranges(image_size, channels, upsampling):
    generator = build_dcgan_generator(image_size, channels, latent_dim=16, base_filters=8,
                                      upsampling=upsampling)
    discriminator = build_dcgan_discriminator(image_size, channels, base_filters=8)
    z = np.random.default_rng(0).normal(size=(3, 16)).astype("float32") * 10  # saturate tanh
    images = generator(z, training=False).numpy()
    assert images.shape == (3, image_size, image_size, channels)
    assert images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    logits = discriminator(images, training=False).numpy()
    assert logits.shape == (3, 1) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("size,expected", [(28, (7, 2)), (32, (4, 3)), (48, (6, 3)),
                                           (64, (4, 4)), (128, (4, 5)), (16, (4, 2))])
def test_dcgan_base_size(size, expected):
    assert dcgan_base_size(size) == expected


@pytest.mark.parametrize("size", [30, 100, 8, 9])
def test_unsupported_sizes_are_clear_errors(size):
    with pytest.raises(UserError, match=f"image size {size} is not supported"):
        build_dcgan_generator(size)


def test_bad_upsampling_is_a_clear_error():
    with pytest.raises(UserError, match="upsampling must be one of"):
        build_dcgan_generator(32, upsampling="bilinear")


def test_bad_channels_is_a_clear_error():
    with pytest.raises(UserError, match="channels must be 1"):
        build_dcgan_discriminator(32, 2)


def test_dcgan_generator_serialization(round_trip, saved_model_round_trip):
    generator = build_dcgan_generator(32, 3, latent_dim=8, base_filters=8)
    z = np.random.default_rng(1).normal(size=(2, 8)).astype("float32")
    round_trip(generator, z)
    saved_model_round_trip(generator, z)
