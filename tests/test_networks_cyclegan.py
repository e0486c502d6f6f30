"""CycleGAN networks: ResNet generator, reflection padding, instance norm, PatchGAN."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfgan_apps.errors import UserError
from tfgan_apps.networks import (
    ReflectionPadding2D,
    build_patch_discriminator,
    build_resnet_generator,
    default_residual_blocks,
)


def _layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


@pytest.mark.parametrize("padding", [1, 3, (2, 1), ((1, 2), (3, 0))])
def test_reflection_padding_matches_numpy(padding):
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype("float32")
    if isinstance(padding, int):
        pads = ((padding, padding), (padding, padding))
    elif isinstance(padding[0], int):
        pads = ((padding[0],) * 2, (padding[1],) * 2)
    else:
        pads = padding
    expected = np.pad(x, ((0, 0), *pads, (0, 0)), mode="reflect")
    layer = ReflectionPadding2D(padding)
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    assert layer.compute_output_shape((2, 5, 6, 3)) == expected.shape
    assert layer.compute_output_shape((None, None, None, 3)) == (None, None, None, 3)


def test_reflection_padding_serializes():
    layer = ReflectionPadding2D(((1, 2), (3, 0)), name="pad")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, ReflectionPadding2D) and clone.padding == ((1, 2), (3, 0))


def test_reflection_padding_rejects_bad_padding():
    with pytest.raises(ValueError, match="non-negative"):
        ReflectionPadding2D(-1)


def test_instance_norm_matches_numpy_reference():
    """The generator's instance norm (GroupNormalization(groups=-1)) is InstanceNorm2d."""
    generator = build_resnet_generator(16, channels=3, base_filters=4, num_residual_blocks=1)
    norm = generator.get_layer("c7s1_in")
    assert isinstance(norm, keras.layers.GroupNormalization)
    assert norm.epsilon == 1e-5
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(2, 7, 9, 4)).astype("float32")
    mean = x.mean(axis=(1, 2), keepdims=True)
    variance = x.var(axis=(1, 2), keepdims=True)  # biased, as InstanceNorm2d
    expected = (x - mean) / np.sqrt(variance + 1e-5)
    np.testing.assert_allclose(np.asarray(norm(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size,blocks", [(32, 6), (64, 6), (128, 6), (256, 9)])
def test_default_residual_blocks(size, blocks):
    assert default_residual_blocks(size) == blocks


def test_resnet_generator_paper_structure():
    generator = build_resnet_generator(256)
    convs = _layers_of(generator, keras.layers.Conv2D)  # Conv2DTranspose is not a Conv2D
    transposed = _layers_of(generator, keras.layers.Conv2DTranspose)
    assert [c.filters for c in convs[:3]] == [64, 128, 256]  # c7s1-64, d128, d256
    assert [c.kernel_size for c in convs[:3]] == [(7, 7), (3, 3), (3, 3)]
    assert [c.strides for c in convs[:3]] == [(1, 1), (2, 2), (2, 2)]
    assert len(_layers_of(generator, keras.layers.Add)) == 9  # R256 x 9
    assert [c.filters for c in transposed] == [128, 64]  # u128, u64
    assert convs[-1].filters == 3 and convs[-1].kernel_size == (7, 7)  # c7s1-3
    assert all(c.padding == "valid" for c in convs)  # every pad is a reflection
    assert len(_layers_of(generator, ReflectionPadding2D)) == 1 + 2 + 2 * 9 + 1
    # ~11.38M parameters like the reference ResNet-9 (it has no instance-norm affine weights)
    assert 11.37e6 < generator.count_params() < 11.39e6


@pytest.mark.parametrize("upsampling", ["transpose", "upsample"])
def test_resnet_generator_is_fully_convolutional(upsampling):
    generator = build_resnet_generator(32, base_filters=4, num_residual_blocks=2,
                                       upsampling=upsampling)
    assert generator.input_shape == (None, None, None, 3)
    for shape in [(2, 32, 32, 3), (1, 12, 20, 3), (1, 64, 48, 3)]:
        out = np.asarray(generator(np.random.uniform(-1, 1, shape).astype("float32")))
        assert out.shape == shape
        assert out.dtype == np.float32 and -1 <= out.min() and out.max() <= 1


def test_resnet_generator_fixed_size_and_grayscale():
    generator = build_resnet_generator(16, channels=1, base_filters=4, fixed_size=True)
    assert generator.input_shape == (None, 16, 16, 1)
    assert generator.output_shape == (None, 16, 16, 1)


def test_resnet_generator_initialization_is_gan_normal():
    generator = build_resnet_generator(64, base_filters=32)
    kernel = np.asarray(generator.get_layer("res1a_conv").kernel)
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002


@pytest.mark.parametrize("bad", [30, 4, 0, "64"])
def test_resnet_generator_rejects_unsupported_sizes(bad):
    with pytest.raises(UserError, match="multiple of 4"):
        build_resnet_generator(bad)


def test_resnet_generator_round_trip(round_trip):
    generator = build_resnet_generator(16, base_filters=4, num_residual_blocks=1)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 20, 24, 3)).astype("float32")
    round_trip_model = round_trip(generator, x)
    assert round_trip_model.input_shape == (None, None, None, 3)


@pytest.mark.parametrize("upsampling", ["transpose", "upsample"])
def test_resnet_generator_without_norm_keeps_absolute_colour(upsampling, round_trip):
    """``norm="none"``: no instance norm anywhere, biases instead, and (unlike instance norm,
    which removes each image's channel means after the first layer) a flat colour shift of the
    input changes the output; it still round-trips and takes any multiple-of-4 size."""
    kwargs = dict(base_filters=4, num_residual_blocks=1, upsampling=upsampling)
    plain = build_resnet_generator(16, norm="none", **kwargs)
    assert not _layers_of(plain, keras.layers.GroupNormalization)
    convs = _layers_of(plain, keras.layers.Conv2D) + _layers_of(plain,
                                                                keras.layers.Conv2DTranspose)
    assert convs and all(c.use_bias for c in convs)
    normed = build_resnet_generator(16, **kwargs)
    # each instance norm's scale and offset (2C) becomes its convolution's bias (C)
    assert normed.count_params() - plain.count_params() == sum(
        layer.weights[0].shape[0] for layer in _layers_of(normed, keras.layers.GroupNormalization))

    x = np.random.default_rng(3).uniform(-0.5, 0.5, (1, 16, 16, 3)).astype("float32")
    shifted = x + np.float32([0.4, -0.3, 0.2])
    first_normed = keras.Model(normed.input, normed.get_layer("down1_conv").input)
    first_plain = keras.Model(plain.input, plain.get_layer("down1_conv").input)
    # instance norm: the c7s1 features of x and of x + a constant colour are equal
    np.testing.assert_allclose(first_normed(x), first_normed(shifted), atol=1e-4)
    assert np.abs(np.asarray(first_plain(x)) - np.asarray(first_plain(shifted))).max() > 1e-3
    assert np.asarray(plain(np.zeros((1, 12, 20, 3), "float32"))).shape == (1, 12, 20, 3)
    round_trip(plain, x)


def test_resnet_generator_rejects_unknown_norm():
    with pytest.raises(UserError, match="norm must be one of"):
        build_resnet_generator(16, base_filters=4, norm="batch")


@pytest.mark.parametrize("size,patches", [(32, 2), (64, 6), (256, 30)])
def test_cyclegan_patch_discriminator_shapes(size, patches):
    discriminator = build_patch_discriminator(size, 3, None, base_filters=4, norm="instance")
    assert discriminator.output_shape == (None, patches, patches, 1)
