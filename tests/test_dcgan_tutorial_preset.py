"""DCGAN's ``tf-tutorial`` preset: the TensorFlow DCGAN tutorial's networks
(https://www.tensorflow.org/tutorials/generative/dcgan) from the general options
``stem_blocks``, ``kernel_size``, ``discriminator_dropout`` and ``discriminator_batch_norm``;
without them the networks are today's, layer for layer."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import TrainConfig, UserError, get_application, train
from tfgan_apps.apps.dcgan import dcgan_networks
from tfgan_apps.cli import build_parser, config_from_args
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator
from tfgan_apps.training import PreparedData

DCGAN = get_application("dcgan")
WEIGHTED = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose)

# The tutorial's make_generator_model() / make_discriminator_model(): every kernel's shape.
TUTORIAL_GENERATOR_KERNELS = [(100, 7 * 7 * 256), (5, 5, 128, 256), (5, 5, 64, 128),
                              (5, 5, 1, 64)]
TUTORIAL_DISCRIMINATOR_KERNELS = [(5, 5, 1, 64), (5, 5, 64, 128), (7 * 7 * 128, 1)]


def kernels(network: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(layer.kernel.shape) for layer in network.layers
            if isinstance(layer, WEIGHTED)]


def layout(network: keras.Model) -> list[tuple]:
    return [(layer.name, type(layer).__name__, [tuple(w.shape) for w in layer.weights])
            for layer in network.layers]


def tutorial_config(**settings) -> TrainConfig:
    return DCGAN.resolve(TrainConfig.create("dcgan", preset="tf-tutorial", image_size=28,
                                            channels=1, **settings))


def test_the_preset_is_the_tutorials_recipe():
    config = tutorial_config()
    options = config.options
    assert (config.batch_size, config.learning_rate, config.d_learning_rate) == (256, 1e-4, None)
    assert (options.upsampling, options.kernel_size, options.stem_blocks,
            options.base_filters) == ("transpose", 5, 1, 64)
    assert (options.discriminator_dropout, options.discriminator_batch_norm) == (0.3, False)
    assert (options.loss, options.ema_decay, options.diff_augment, options.spectral_norm,
            options.r1_weight) == ("non_saturating", 0.0, "none", False, 0.0)
    # flags over the preset, and the CLI resolves to what the API does
    cli = config_from_args(build_parser().parse_args(
        ["train", "dcgan", "--preset", "tf-tutorial", "--image-size", "28", "--channels", "1",
         "--stem-blocks", "2", "--discriminator-dropout", "0.1"]))
    assert cli == tutorial_config(stem_blocks=2, discriminator_dropout=0.1)
    assert cli.options.kernel_size == 5


def test_the_preset_builds_the_tutorials_layer_shapes():
    config = tutorial_config()
    data = PreparedData(tf.data.Dataset.range(1), None,
                        {"image_size": 28, "channels": 1, "diff_augment": "none"})
    model = DCGAN.build_model(config, data)
    generator, discriminator = model.generator, model.discriminator
    assert kernels(generator) == TUTORIAL_GENERATOR_KERNELS
    assert kernels(discriminator) == TUTORIAL_DISCRIMINATOR_KERNELS
    # the stride-1 block works at 7x7; then 14x14 and 28x28, as in the tutorial
    sizes = [tuple(layer.output.shape[1:]) for layer in generator.layers
             if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert sizes == [(7, 7, 128), (14, 14, 64), (28, 28, 1)]
    # D: no batch norm, biases on both convolutions, Dropout(0.3) after each LeakyReLU
    assert not [layer for layer in discriminator.layers
                if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(layer.use_bias for layer in discriminator.layers
               if isinstance(layer, keras.layers.Conv2D))
    assert [layer.rate for layer in discriminator.layers
            if isinstance(layer, keras.layers.Dropout)] == [0.3, 0.3]
    assert discriminator.count_params() == 212_865  # the tutorial's D, to the parameter
    z = np.random.default_rng(0).normal(size=(2, 100)).astype("float32")
    images = generator(z, training=False)
    assert images.shape == (2, 28, 28, 1)
    assert discriminator(images, training=False).shape == (2, 1)


# today's networks (recorded before stem_blocks, dropout and batch_norm existed)
TODAY_GENERATOR_28_TRANSPOSE_K5 = [
    ("z", "InputLayer", []),
    ("project", "Dense", [(100, 6272)]),
    ("reshape", "Reshape", []),
    ("project_bn", "BatchNormalization", [(128,)] * 4),
    ("project_relu", "ReLU", []),
    ("up1_conv", "Conv2DTranspose", [(5, 5, 64, 128)]),
    ("up1_bn", "BatchNormalization", [(64,)] * 4),
    ("up1_relu", "ReLU", []),
    ("to_image", "Conv2DTranspose", [(5, 5, 1, 64), (1,)]),
    ("tanh", "Activation", []),
]
TODAY_GENERATOR_32_UPSAMPLE = [
    ("z", "InputLayer", []),
    ("project", "Dense", [(100, 512)]),
    ("reshape", "Reshape", []),
    ("project_bn", "BatchNormalization", [(32,)] * 4),
    ("project_relu", "ReLU", []),
    ("up1_resize", "UpSampling2D", []), ("up1_conv", "Conv2D", [(3, 3, 32, 16)]),
    ("up1_bn", "BatchNormalization", [(16,)] * 4), ("up1_relu", "ReLU", []),
    ("up2_resize", "UpSampling2D", []), ("up2_conv", "Conv2D", [(3, 3, 16, 8)]),
    ("up2_bn", "BatchNormalization", [(8,)] * 4), ("up2_relu", "ReLU", []),
    ("up3_resize", "UpSampling2D", []), ("up3_conv", "Conv2D", [(3, 3, 8, 4)]),
    ("up3_bn", "BatchNormalization", [(4,)] * 4), ("up3_relu", "ReLU", []),
    ("to_image", "Conv2D", [(3, 3, 4, 3), (3,)]),
    ("tanh", "Activation", []),
]
TODAY_DISCRIMINATOR_28_K5 = [
    ("images", "InputLayer", []),
    ("down1_conv", "Conv2D", [(5, 5, 1, 8), (8,)]),
    ("down1_lrelu", "LeakyReLU", []),
    ("down2_conv", "Conv2D", [(5, 5, 8, 16)]),
    ("down2_bn", "BatchNormalization", [(16,)] * 4),
    ("down2_lrelu", "LeakyReLU", []),
    ("flatten", "Flatten", []),
    ("logit", "Dense", [(784, 1), (1,)]),
]


def test_no_stem_and_no_dropout_are_todays_networks():
    assert layout(build_dcgan_generator(28, 1, 100, 64, kernel_size=5, upsampling="transpose",
                                        stem_blocks=0)) == TODAY_GENERATOR_28_TRANSPOSE_K5
    assert layout(build_dcgan_generator(32, 3, 100, 8)) == TODAY_GENERATOR_32_UPSAMPLE
    assert layout(build_dcgan_discriminator(28, 1, 8, kernel_size=5, dropout=0.0,
                                            batch_norm=True)) == TODAY_DISCRIMINATOR_28_K5
    # the option defaults reach the builders as today's arguments
    options = TrainConfig.create("dcgan", upsampling="transpose", base_filters=8).options
    generator, discriminator = dcgan_networks(options, 32, 3)
    assert layout(generator) == layout(build_dcgan_generator(32, 3, 100, 8,
                                                             upsampling="transpose"))
    assert layout(discriminator) == layout(build_dcgan_discriminator(32, 3, 8))


@pytest.mark.parametrize("upsampling", ["upsample", "transpose"])
def test_stem_blocks_keep_the_blocks_after_them(upsampling):
    plain = build_dcgan_generator(32, 3, 16, 8, upsampling=upsampling)
    stem = build_dcgan_generator(32, 3, 16, 8, upsampling=upsampling, stem_blocks=2)
    # the projection is 4x wider (4x4x128 instead of 4x4x32), two stride-1 blocks bring it
    # back to 32 filters at 4x4, and every later layer is the same
    assert kernels(stem)[0] == (16, 4 * 4 * 128)
    if upsampling == "upsample":  # Conv2D kernels are (h, w, in, out)
        assert kernels(stem)[1:3] == [(3, 3, 128, 64), (3, 3, 64, 32)]
    else:  # Conv2DTranspose kernels are (h, w, out, in)
        assert kernels(stem)[1:3] == [(4, 4, 64, 128), (4, 4, 32, 64)]
    assert kernels(stem)[3:] == kernels(plain)[1:]
    assert [tuple(stem.get_layer(f"stem{i}_conv").output.shape[1:]) for i in (1, 2)] == [
        (4, 4, 64), (4, 4, 32)]
    stem_layers = {layer.name for layer in stem.layers} - {layer.name for layer in plain.layers}
    assert stem_layers == {f"stem{i}_{part}" for i in (1, 2) for part in ("conv", "bn", "relu")}
    assert not stem.get_layer("stem1_conv").use_bias
    assert stem.output_shape == plain.output_shape == (None, 32, 32, 3)


def test_stem_generator_keras_round_trip(round_trip):
    generator = build_dcgan_generator(28, 1, latent_dim=8, base_filters=8, kernel_size=5,
                                      upsampling="transpose", stem_blocks=1)
    z = np.random.default_rng(1).normal(size=(2, 8)).astype("float32")
    reloaded = round_trip(generator, z)
    assert layout(reloaded) == layout(generator)


def test_dropout_discriminator_keras_round_trip(round_trip):
    discriminator = build_dcgan_discriminator(28, 1, 8, kernel_size=5, dropout=0.3,
                                              batch_norm=False)
    images = np.random.default_rng(2).uniform(-1, 1, size=(2, 28, 28, 1)).astype("float32")
    round_trip(discriminator, images)


@pytest.mark.parametrize("settings,option", [
    ({"discriminator_dropout": 1.0}, "discriminator_dropout"),
    ({"discriminator_dropout": -0.1}, "discriminator_dropout"),
    ({"stem_blocks": -1}, "stem_blocks"),
    ({"kernel_size": 0}, "kernel_size"),
])
def test_bad_values_name_their_option(settings, option):
    with pytest.raises(UserError) as caught:
        TrainConfig.create("dcgan", **settings).validate()
    assert caught.value.option == option


def test_builders_refuse_bad_values():
    with pytest.raises(UserError, match="stem_blocks must be an integer >= 0"):
        build_dcgan_generator(28, stem_blocks=-1)
    with pytest.raises(UserError, match=r"dropout must be in \[0, 1\)"):
        build_dcgan_discriminator(28, dropout=1.0)


def test_the_memory_estimate_counts_the_tutorials_networks():
    config = tutorial_config()
    data = PreparedData(tf.data.Dataset.range(1), None, {"image_size": 28, "channels": 1})
    parameters, activations = DCGAN.network_size(config, data)
    generator, discriminator = dcgan_networks(config.options, 28, 1)
    assert parameters == generator.count_params() + discriminator.count_params()
    assert activations > 0


def test_two_steps_of_the_preset_train_with_finite_losses(tmp_path):
    result = train(TrainConfig.create(
        "dcgan", preset="tf-tutorial", image_size=28, channels=1, steps_per_epoch=2, epochs=1,
        batch_size=8, output=str(tmp_path / "run"), xla=False), verbose=0)
    assert len(result.history["d_loss"]) == 1
    for name in ("d_loss", "g_loss"):
        assert all(math.isfinite(value) for value in result.history[name]), name
    assert kernels(result.model.generator) == TUTORIAL_GENERATOR_KERNELS
    assert int(result.model.g_optimizer.iterations) == 2
