"""DCGAN: train_step behaviour, learning, serialization, strategies and XLA."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import DCGAN
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator
from tfgan_apps.training import make_strategy


def tiny_dcgan(image_size=16, channels=1, latent_dim=8, base_filters=8, seed=0) -> DCGAN:
    return DCGAN(
        build_dcgan_generator(image_size, channels, latent_dim, base_filters),
        build_dcgan_discriminator(image_size, channels, base_filters),
        seed=seed,
    )


def pattern_images(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """A simple distribution: left half bright, right half dark, small noise; [-1, 1]."""
    rng = np.random.default_rng(seed)
    base = np.full((size, size, 1), -0.8, np.float32)
    base[:, : size // 2] = 0.8
    return np.clip(base + rng.normal(0, 0.05, (n, size, size, 1)), -1, 1).astype(np.float32)


def test_train_step_reports_the_documented_figures():
    keras.utils.set_random_seed(0)
    model = tiny_dcgan()
    model.compile(jit_compile=False)
    history = model.fit(pattern_images(32), batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert 0.0 < history.history["d_real"][0] < 1.0
    assert 0.0 < history.history["d_fake"][0] < 1.0
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 2


def test_fit_on_a_dataset_takes_its_order_without_a_shuffle_warning():
    model = tiny_dcgan()
    model.compile(jit_compile=False)
    dataset = tf.data.Dataset.from_tensor_slices(pattern_images(32)).batch(16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
    assert int(model.g_optimizer.iterations) == 2


def test_compile_builds_optimizers_before_the_first_step():
    model = tiny_dcgan()
    model.compile(jit_compile=False)
    assert model.d_optimizer.built and model.g_optimizer.built
    assert model.optimizer is None  # no unused default optimizer


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "least_squares"])
def test_every_loss_trains(loss):
    keras.utils.set_random_seed(1)
    model = tiny_dcgan()
    model.compile(jit_compile=False, loss=loss)
    history = model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["g_loss"]))


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown adversarial loss 'wasserstein'"):
        tiny_dcgan().compile(loss="wasserstein")


@pytest.mark.slow
def test_training_moves_samples_towards_the_data():
    keras.utils.set_random_seed(0)
    data = pattern_images(512)
    target = data.mean(axis=0)
    model = tiny_dcgan(base_filters=16)
    model.compile(jit_compile=True)

    def distance() -> float:
        samples = model.generate(256, seed=3).numpy()
        # Nearest-neighbour distance to the data set, averaged over samples.
        d = ((samples.reshape(256, 1, -1) - data[:128].reshape(1, 128, -1)) ** 2).mean(-1)
        return float(d.min(axis=1).mean())

    before_nn = distance()
    before_mean = float(np.abs(model.generate(256, seed=3).numpy().mean(0) - target).mean())
    model.fit(data, batch_size=32, epochs=20, verbose=0)  # 320 steps
    after_nn = distance()
    after_mean = float(np.abs(model.generate(256, seed=3).numpy().mean(0) - target).mean())
    assert after_nn < 0.25 * before_nn, (before_nn, after_nn)
    assert after_mean < 0.25 * before_mean, (before_mean, after_mean)


def test_generate_is_deterministic_per_seed():
    model = tiny_dcgan()
    a, b = model.generate(4, seed=7).numpy(), model.generate(4, seed=7).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.generate(4, seed=8).numpy())
    assert a.shape == (4, 16, 16, 1) and a.min() >= -1 and a.max() <= 1


def test_keras_round_trip_gives_identical_outputs(round_trip):
    keras.utils.set_random_seed(0)
    model = tiny_dcgan(image_size=28, channels=1)
    model.compile(jit_compile=False, loss="least_squares")
    model.fit(pattern_images(16, size=28), batch_size=8, epochs=1, verbose=0)
    reloaded = round_trip(model, model.sample_noise(5, seed=2))
    # compile config and optimizer state come back too: training can continue
    assert reloaded.loss_name == "least_squares"
    assert int(reloaded.d_optimizer.iterations) == 2
    for a, b in zip(reloaded.d_optimizer.variables, model.d_optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mismatched_networks_are_rejected():
    with pytest.raises(ValueError, match="discriminator expects"):
        DCGAN(build_dcgan_generator(32, 3, 8, 8), build_dcgan_discriminator(28, 1, 8))


def _train_weights(strategy: tf.distribute.Strategy, steps: int = 3) -> list[np.ndarray]:
    data = tf.data.Dataset.from_tensor_slices(pattern_images(8 * steps, seed=5)).batch(8)
    with strategy.scope():
        keras.utils.set_random_seed(42)
        model = tiny_dcgan(seed=11)
        # SGD, not Adam: Adam's step ignores the gradient's scale, so it would hide a wrong
        # per-replica loss scaling.
        model.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3), jit_compile=False)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    return [np.asarray(v) for v in model.generator.weights + model.discriminator.weights]


def test_mirrored_strategy_on_two_cpus_matches_one_device():
    one = _train_weights(tf.distribute.OneDeviceStrategy("/cpu:0"))
    mirrored_strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    assert mirrored_strategy.num_replicas_in_sync == 2
    two = _train_weights(mirrored_strategy)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_xla_on_one_device_trains_like_graph_mode():
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(3)
        model = tiny_dcgan()
        model.compile(jit_compile=jit)
        assert model.jit_compile is jit
        history = model.fit(pattern_images(32), batch_size=16, epochs=2, verbose=0, shuffle=False)
        results.append(history.history["d_loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-3)
