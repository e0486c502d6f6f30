"""Shapes, ranges and structure of the pix2pix U-Net and the PatchGAN discriminator."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfgan_apps.errors import UserError
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator, unet_depth


@pytest.mark.parametrize("size, depth", [(32, 5), (64, 6), (128, 7), (256, 8)])
def test_unet_depth_goes_down_to_one_pixel(size, depth):
    assert unet_depth(size) == depth
    generator = build_unet_generator(size, base_filters=4, max_filters=16)
    bottleneck = generator.get_layer(f"down{depth}_conv").output
    assert tuple(bottleneck.shape[1:3]) == (1, 1)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_unet_shapes_and_tanh_range(size):
    generator = build_unet_generator(size, input_channels=3, output_channels=3, base_filters=4,
                                     max_filters=16)
    assert generator.input_shape == (None, size, size, 3)
    assert generator.output_shape == (None, size, size, 3)
    images = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    out = generator(images, training=False).numpy()
    assert out.dtype == np.float32 and np.all(np.abs(out) <= 1.0)


def test_unet_logits_for_segmentation_and_instance_norm():
    generator = build_unet_generator(64, output_channels=5, base_filters=4, norm="instance",
                                     output_activation=None)
    assert generator.output_shape == (None, 64, 64, 5)
    names = [layer.name for layer in generator.layers]
    assert not any(name.endswith("_bn") for name in names)
    assert "down2_in" in names
    # No normalization on the first encoder block nor on the 1x1 bottleneck (instance norm
    # would zero a 1x1 map).
    assert "down1_in" not in names and "down6_in" not in names
    assert "tanh" not in names


def test_unet_paper_configuration_at_256():
    """U-Net-256 of the paper: C64-C128-C256-C512x5, skips, dropout in 3 decoder blocks."""
    generator = build_unet_generator(256)
    filters = [generator.get_layer(f"down{i}_conv").filters for i in range(1, 9)]
    assert filters == [64, 128, 256, 512, 512, 512, 512, 512]
    dropouts = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.name for layer in dropouts] == ["up1_dropout", "up2_dropout", "up3_dropout"]
    assert all(layer.rate == 0.5 for layer in dropouts)
    assert len([la for la in generator.layers if isinstance(la, keras.layers.Concatenate)]) == 7
    # 54.4 M weights, as the reference implementation's unet_256.
    assert 54.3e6 < generator.count_params() < 54.5e6


def test_unet_initialization_is_gan_normal():
    generator = build_unet_generator(64, base_filters=16)
    kernel = generator.get_layer("down3_conv").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 0.003


def glorot_std(fan_in: int, fan_out: int) -> float:
    return float(np.sqrt(2.0 / (fan_in + fan_out)))  # uniform on +-sqrt(6 / (in + out))


def test_unet_glorot_initialization_follows_each_layers_fans():
    generator = build_unet_generator(64, 3, 4, base_filters=16, output_activation=None,
                                     initializer="glorot")
    # Conv2D kernel [4, 4, in, out]; Conv2DTranspose kernel [4, 4, out, in]: Keras's fans
    # are (shape[-2] * 16, shape[-1] * 16) for both.
    expected = {"down1_conv": glorot_std(3 * 16, 16 * 16),       # 3x the normal's 0.02
                "down3_conv": glorot_std(32 * 16, 64 * 16),
                "to_output": glorot_std(4 * 16, 32 * 16)}
    for name, std in expected.items():
        kernel = generator.get_layer(name).kernel.numpy()
        assert abs(kernel.std() - std) < 0.12 * std, name
        assert np.abs(kernel).max() <= np.sqrt(3.0) * std + 1e-6, name  # uniform, not normal
    assert expected["down1_conv"] > 2.5 * 0.02
    # Saved and rebuilt with its initializer: the config names it.
    config = generator.get_layer("down1_conv").get_config()
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"


def test_unet_rejects_unknown_initializer():
    with pytest.raises(UserError, match=r"initializer must be one of \['normal', 'glorot'\]"):
        build_unet_generator(64, initializer="he")


@pytest.mark.parametrize("bad", [16, 48, 100, 0])
def test_unet_rejects_unsupported_sizes(bad):
    with pytest.raises(UserError, match="power of two"):
        build_unet_generator(bad)


def test_unet_rejects_unknown_norm():
    with pytest.raises(UserError, match="norm"):
        build_unet_generator(64, norm="layer")


@pytest.mark.parametrize("size, patches", [(64, 6), (128, 14), (256, 30)])
def test_conditional_patch_discriminator_shapes(size, patches):
    discriminator = build_patch_discriminator(size, input_channels=3, target_channels=4,
                                              base_filters=4)
    assert [tuple(s) for s in discriminator.input_shape] == [
        (None, size, size, 3), (None, size, size, 4)]
    assert discriminator.output_shape == (None, patches, patches, 1)
    rng = np.random.default_rng(0)
    logits = discriminator([rng.normal(size=(2, size, size, 3)).astype("float32"),
                            rng.normal(size=(2, size, size, 4)).astype("float32")])
    assert logits.shape == (2, patches, patches, 1)


def test_patch_discriminator_70x70_at_256():
    discriminator = build_patch_discriminator(256, target_channels=3)
    convs = [la for la in discriminator.layers if isinstance(la, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 512, 1]
    assert [c.strides for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    assert all(c.kernel_size == (4, 4) for c in convs)
    # Receptive field of the last logit: r = 1 + sum (k - 1) * prod(previous strides) = 70.
    field, jump = 1, 1
    for conv in convs:
        field += (conv.kernel_size[0] - 1) * jump
        jump *= conv.strides[0]
    assert field == 70
    names = [layer.name for layer in discriminator.layers]
    assert "layer1_bn" not in names and "layer2_bn" in names
    assert 2.76e6 < discriminator.count_params() < 2.78e6


def test_unconditional_instance_norm_discriminator_for_cyclegan():
    discriminator = build_patch_discriminator(64, input_channels=3, norm="instance",
                                              base_filters=4)
    assert discriminator.input_shape == (None, 64, 64, 3)
    assert discriminator.output_shape == (None, 6, 6, 1)
    assert any(isinstance(la, keras.layers.GroupNormalization) for la in discriminator.layers)


def test_patch_discriminator_n_layers():
    assert build_patch_discriminator(64, n_layers=1, base_filters=4).output_shape == (
        None, 30, 30, 1)
    with pytest.raises(UserError, match="too small"):
        build_patch_discriminator(32, n_layers=4)
