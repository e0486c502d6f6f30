"""benchmarks/throughput.py: the FLOP count of a traced step and the printed command (the
benchmark's figures themselves are measured by running it, never by a test)."""

from __future__ import annotations

import importlib.util
import os

import keras
import pytest
import tensorflow as tf

from tfgan_apps.apps import get_application
from tfgan_apps.cli import build_parser, config_from_args
from tfgan_apps.config import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def throughput():
    spec = importlib.util.spec_from_file_location(
        "throughput", os.path.join(ROOT, "benchmarks", "throughput.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_of_a_training_step_are_two_per_multiply_add(throughput):
    # conv 3x3 stride 1 'same' 2 -> 4 channels on 8x8, transposed conv 2x2 stride 2 4 -> 3,
    # dense 16*16*3 -> 5; batch 2
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Conv2DTranspose(3, 2, strides=2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(images))
        return loss, tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function(tf.TensorSpec([2, 8, 8, 2])).graph
    conv = 2 * (2 * 8 * 8 * 4) * (3 * 3 * 2)  # 2 x output values x taps x input channels
    transpose = 2 * (2 * 8 * 8 * 4) * (2 * 2 * 3)  # every input value meets every tap
    dense = 2 * 2 * (16 * 16 * 3) * 5
    # forward of all three; backward: both gradients of the dense layer and the transposed
    # conv, only the filter gradient of the first conv (the tape builds its input gradient,
    # which nothing uses: pruned, as TensorFlow prunes it)
    expected = 2 * conv + 3 * transpose + 3 * dense
    assert throughput.count_flops(graph) == expected


@pytest.mark.parametrize("name", ["dcgan-tf-tutorial", "dcgan-64", "cyclegan-256",
                                  "cyclegan-128", "pix2pix-256", "dcgan-default",
                                  "pix2pix-default", "cyclegan-default"])
def test_the_printed_command_trains_the_measured_configuration(throughput, name, tmp_path):
    settings = dict(throughput.CONFIGS[name]["settings"])
    if settings.get("aligned_dir"):
        settings["aligned_dir"] = str(tmp_path)
    config = TrainConfig.create(**settings, epochs=1, steps_per_epoch=9, xla=True,
                                precision="bf16", output="runs/x", seed=0)
    flags = [str(tmp_path) if f == "ALIGNED_DIR" else f for f in throughput.cli_flags(config)]
    parsed = config_from_args(build_parser().parse_args(
        ["train", *flags, "--output", "runs/x", "--seed", "0"]))
    # (the CLI fills in the application's defaults that the API leaves to resolve())
    application = get_application(name.split("-")[0])
    assert application.resolve(parsed) == application.resolve(config)
