"""DCGAN: train_step behaviour, learning, serialization, strategies and XLA; and the base
class's contract (optimizer seam, step counter, seeds), exercised on the simplest model."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import DCGAN
from tfgan_apps.models.base import EVALUATION_STEP
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
    assert int(reloaded.step_counter.numpy()) == 2
    for a, b in zip(reloaded.d_optimizer.variables, model.d_optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mismatched_networks_are_rejected():
    with pytest.raises(ValueError, match="discriminator expects"):
        DCGAN(build_dcgan_generator(32, 3, 8, 8), build_dcgan_discriminator(28, 1, 8))


def _train_weights(strategy: tf.distribute.Strategy, steps: int = 3,
                   build=tiny_dcgan) -> list[np.ndarray]:
    """Weights of the sampling generator and D after ``steps`` SGD steps of ``build(seed=11)``."""
    data = tf.data.Dataset.from_tensor_slices(pattern_images(8 * steps, seed=5)).batch(8)
    with strategy.scope():
        keras.utils.set_random_seed(42)
        model = build(seed=11)
        # SGD, not Adam: Adam's step ignores the gradient's scale, so it would hide a wrong
        # per-replica loss scaling.
        model.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3), jit_compile=False)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    # once per global step, not once per replica (the step's noise depends on it)
    assert int(model.step_counter.numpy()) == steps
    return [np.asarray(v) for v in
            model.inference_generator.weights + model.discriminator.weights]


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


# ------------------------------------------------------------------------------ evaluation


def test_evaluate_reports_the_training_figures_and_changes_nothing(state_unchanged):
    model = tiny_dcgan(seed=4)
    model.compile(jit_compile=False)
    images = pattern_images(16, seed=2)
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    with state_unchanged(model):
        first = model.evaluate(images[:8], batch_size=8, return_dict=True, verbose=0)
        again = model.evaluate(images[:8], batch_size=8, return_dict=True, verbose=0)
    assert set(first) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in first.values())
    assert first == again  # the noise is fixed, not drawn from the step counter
    # the figures of the real batch against fakes from the evaluation noise, inference mode
    z = tf.random.stateless_normal((8, model.latent_dim), seed=model.step_seed(EVALUATION_STEP, 0))
    real_out = model.discriminator(images[:8], training=False)
    fake_out = model.discriminator(model.generator(z, training=False), training=False)
    assert first["d_loss"] == pytest.approx(
        float(model.adversarial_loss.discriminator(real_out, fake_out)), rel=1e-5)
    assert first["g_loss"] == pytest.approx(
        float(model.adversarial_loss.generator(fake_out)), rel=1e-5)
    assert first["d_fake"] == pytest.approx(float(tf.reduce_mean(tf.sigmoid(fake_out))), rel=1e-5)


def test_fit_with_validation_data_logs_val_figures():
    model = tiny_dcgan()
    model.compile(jit_compile=False)
    history = model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0,
                        validation_data=(pattern_images(8, seed=1),))
    assert {f"val_{k}" for k in ("d_loss", "g_loss", "d_real", "d_fake")} <= set(history.history)
    assert int(model.step_counter.numpy()) == 2  # validation steps are not train steps


# ----------------------------------------------- the base's contract (AdversarialModel)


def test_every_update_goes_through_optimize(optimize_calls):
    model = tiny_dcgan()
    model.compile(run_eagerly=True)  # eager: the spy sees every step, not one trace
    model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0)
    d_variables = [v.path for v in model.discriminator.trainable_variables]
    g_variables = [v.path for v in model.generator.trainable_variables]
    one_step = [(model.d_optimizer, d_variables), (model.g_optimizer, g_variables)]
    assert optimize_calls == one_step * 2
    # nothing applied gradients around it
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 2


def _fit_with(optimizers, jit_compile=False) -> tuple[DCGAN, dict]:
    keras.utils.set_random_seed(0)
    model = tiny_dcgan(seed=3)
    model.compile(*optimizers, jit_compile=jit_compile)
    history = model.fit(pattern_images(24), batch_size=8, epochs=1, verbose=0)
    return model, history.history


@pytest.mark.parametrize("jit_compile", [False, True])
def test_loss_scale_optimizers_train_like_plain_ones(jit_compile):
    """The seam passes the loss through ``optimizer.scale_loss``: a LossScaleOptimizer (with
    float32, its power-of-two scale is exact) takes the plain optimizer's steps."""
    plain, plain_logs = _fit_with([keras.optimizers.SGD(1e-2) for _ in range(2)], jit_compile)
    scaled, scaled_logs = _fit_with(
        [keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e-2)) for _ in range(2)],
        jit_compile)
    assert float(scaled.d_optimizer.dynamic_scale.numpy()) == 2.0**15  # it did scale
    for key, values in plain_logs.items():
        assert np.all(np.isfinite(scaled_logs[key]))
        np.testing.assert_allclose(scaled_logs[key], values, rtol=1e-6)
    for a, b in zip(plain.weights, scaled.weights, strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-7)


def test_step_counter_counts_train_steps_not_optimizer_steps():
    """A LossScaleOptimizer skips non-finite steps without advancing ``iterations``; the
    model's counter (which seeds the noise) still advances once per step."""
    model, _ = _fit_with([keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(1e-2), initial_scale=float("inf")) for _ in range(2)])
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 0
    assert int(model.step_counter.numpy()) == 3
    assert not model.step_counter.trainable


def test_step_counter_advances_once_per_step_with_several_steps_per_execution():
    model = tiny_dcgan()
    model.compile(jit_compile=False, steps_per_execution=2)
    model.fit(pattern_images(32), batch_size=8, epochs=1, verbose=0)
    assert int(model.step_counter.numpy()) == 4


def test_step_counter_is_checkpointed(tmp_path):
    model = tiny_dcgan(seed=5)
    model.compile(jit_compile=False)
    model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    restored = tiny_dcgan(seed=5)
    restored.compile(jit_compile=False)
    tf.train.Checkpoint(model=restored).restore(path).assert_existing_objects_matched()
    assert int(restored.step_counter.numpy()) == 2


def test_step_seed_is_a_function_of_seed_step_and_stream():
    model = tiny_dcgan(seed=9)
    np.testing.assert_array_equal(model.step_seed(3, 2), [9, 3 * 16 + 2])
    assert model.step_seed(tf.constant(3, tf.int64), 2).dtype == tf.int64
    with pytest.raises(ValueError, match="stream"):
        model.step_seed(0, 16)


# ------------------------------------------------------- small-data and stability remedies
def remedied_dcgan(seed: int = 0, **kwargs) -> DCGAN:
    settings = {"ema_decay": 0.99, "diff_augment": "color,translation,cutout",
                "r1_weight": 0.5, **kwargs}
    return DCGAN(build_dcgan_generator(16, 1, 8, 8),
                 build_dcgan_discriminator(16, 1, 8, spectral_norm=True), seed=seed,
                 **settings)


def test_ema_follows_the_documented_update():
    """Every weight but batch norm's statistics follows ``ema <- w + decay (ema - w)``; the
    statistics are the average's own: one momentum update from the moving-average
    generator's batch statistics on the noise of G's update (stream 1)."""
    keras.utils.set_random_seed(0)
    model = remedied_dcgan(diff_augment="none", r1_weight=0.0)
    model.compile(jit_compile=False)
    initial = [w.numpy().copy() for w in model.generator_ema.weights]
    np.testing.assert_array_equal(initial[0], model.generator.weights[0].numpy())
    model.fit(pattern_images(8), batch_size=8, epochs=1, verbose=0)
    decay = min(0.99, (1 + 0) / (10 + 0))  # step 0's warm-up decay
    ema = model.generator_ema
    norms = [la for la in ema.layers if isinstance(la, keras.layers.BatchNormalization)]
    statistics = {id(v) for la in norms for v in (la.moving_mean, la.moving_variance)}
    assert norms and len(statistics) == 2 * len(norms)
    for average, weight, start in zip(ema.weights, model.generator.weights, initial,
                                      strict=True):
        if id(average) in statistics:
            continue
        w = weight.numpy()
        np.testing.assert_allclose(average.numpy(), w + decay * (start - w), rtol=1e-5,
                                   atol=1e-6)
    # ...which are not the average of the raw generator's statistics
    raw_norm = model.generator.get_layer(norms[0].name)
    assert not np.allclose(norms[0].moving_mean.numpy(), raw_norm.moving_mean.numpy())
    actual = [(n.moving_mean.numpy(), n.moving_variance.numpy()) for n in norms]
    z = model.replica_normal(8, (model.latent_dim,), 0, stream=1)
    for norm, (mean, variance) in zip(norms, actual, strict=True):
        # training mode: the layers before normalize with batch statistics, as in the update
        # (this call moves their statistics again, hence the values read beforehand)
        activations = keras.Model(ema.input, norm.input)(z, training=True).numpy()
        axes = tuple(range(activations.ndim - 1))
        momentum = norm.momentum
        np.testing.assert_allclose(mean, (1 - momentum) * activations.mean(axes), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(variance, momentum + (1 - momentum) * activations.var(axes),
                                   rtol=1e-4, atol=1e-6)


def test_the_moving_average_generates_and_is_exported(tmp_path):
    from tfgan_apps import export_saved_model

    keras.utils.set_random_seed(1)
    model = remedied_dcgan()
    model.compile(jit_compile=False)
    model.fit(pattern_images(32), batch_size=8, epochs=1, verbose=0)
    z = model.sample_noise(3, seed=4)
    ema_images = model.generator_ema(z, training=False).numpy()
    assert not np.allclose(ema_images, model.generator(z, training=False).numpy())
    np.testing.assert_array_equal(model(z).numpy(), ema_images)
    np.testing.assert_array_equal(model.generate(3, seed=4).numpy(), ema_images)
    path = export_saved_model(model, str(tmp_path), version=1)
    served = tf.saved_model.load(path).signatures["serving_default"](z=z)["images"].numpy()
    expected = np.round((np.clip(ema_images, -1, 1) + 1) * 127.5)
    assert np.abs(served.astype(np.float32) - expected).max() <= 1


def test_remedies_round_trip_and_checkpoint_their_state(round_trip, tmp_path):
    keras.utils.set_random_seed(2)
    model = remedied_dcgan()
    model.compile(jit_compile=False, loss="hinge")
    history = model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0)
    assert history.history["r1_penalty"][-1] > 0
    reloaded = round_trip(model, model.sample_noise(4, seed=2))
    assert (reloaded.ema_decay, reloaded.diff_augment, reloaded.r1_weight) == (
        0.99, "color,translation,cutout", 0.5)
    # the moving average is training state: a checkpoint restores it
    checkpoint = tf.train.Checkpoint(model=model)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    fresh = remedied_dcgan()
    tf.train.Checkpoint(model=fresh).restore(path).expect_partial()
    for a, b in zip(fresh.generator_ema.weights, model.generator_ema.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_moving_average_means_the_raw_generator():
    model = tiny_dcgan()
    assert model.generator_ema is None and model.inference_generator is model.generator


@pytest.mark.parametrize("loss", ["hinge", "non_saturating"])
def test_remedies_train_under_xla(loss):
    keras.utils.set_random_seed(3)
    model = remedied_dcgan()
    model.compile(jit_compile=True, loss=loss)
    history = model.fit(pattern_images(32), batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())


def test_remedies_on_two_replicas_match_one_device():
    """Augmentation draws are sliced from the global batch's, R1 is per image, and the moving
    average is the same on every replica: two replicas train like one device."""
    one = _train_weights(tf.distribute.OneDeviceStrategy("/cpu:0"), build=remedied_dcgan)
    two = _train_weights(make_strategy("mirrored", ["/cpu:0", "/cpu:1"]), build=remedied_dcgan)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bad_remedy_values_are_user_errors():
    from tfgan_apps.errors import UserError

    with pytest.raises(UserError, match="ema_decay"):
        remedied_dcgan(ema_decay=1.0)
    with pytest.raises(UserError, match="r1_weight"):
        remedied_dcgan(r1_weight=-1.0)
    with pytest.raises(UserError, match="DiffAugment"):
        remedied_dcgan(diff_augment="zoom")


def _one_step(generator_noise: str, **kwargs) -> tuple[DCGAN, list, list]:
    """A tiny DCGAN after one SGD(0.1) step on a fixed batch, with its initial G and D."""
    keras.utils.set_random_seed(7)
    model = DCGAN(build_dcgan_generator(16, 1, 8, 8), build_dcgan_discriminator(16, 1, 8),
                  seed=3, generator_noise=generator_noise, **kwargs)
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), jit_compile=False)
    g0 = [w.numpy() for w in model.generator.trainable_weights]
    d0 = [w.numpy() for w in model.discriminator.weights]
    model.train_step(tf.constant(pattern_images(8, seed=1)))
    return model, g0, d0


def test_reused_fakes_are_scored_by_the_updated_discriminator():
    """``generator_noise="reuse"``: D's update is the fresh mode's (same noise), and G's is
    the gradient of its loss on those very fakes through D *after* its update."""
    reuse, g0, d0 = _one_step("reuse")
    fresh, _, _ = _one_step("fresh")
    # (trainable only: batch norm's moving statistics also see the G update's fakes)
    for a, b in zip(reuse.discriminator.trainable_weights,
                    fresh.discriminator.trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)

    def generator_after(discriminator_weights: list) -> list[np.ndarray]:
        generator = build_dcgan_generator(16, 1, 8, 8)
        for variable, value in zip(generator.trainable_weights, g0, strict=True):
            variable.assign(value)
        discriminator = build_dcgan_discriminator(16, 1, 8)
        discriminator.set_weights(discriminator_weights)
        z = reuse.replica_normal(8, (8,), 0, stream=0)
        with tf.GradientTape() as tape:
            scores = discriminator(generator(z, training=True), training=True)
            loss = reuse.adversarial_loss.generator(scores)
        grads = tape.gradient(loss, generator.trainable_weights)
        return [w.numpy() - 0.1 * g.numpy() for w, g in
                zip(generator.trainable_weights, grads, strict=True)]

    expected = generator_after([w.numpy() for w in reuse.discriminator.weights])
    before_update = generator_after(d0)
    got = [w.numpy() for w in reuse.generator.trainable_weights]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(got, before_update,
                                                                  strict=True))
    # fresh noise gives G another update
    assert any(not np.allclose(a.numpy(), b, atol=1e-6)
               for a, b in zip(fresh.generator.trainable_weights, got, strict=True))


def test_reused_fakes_train_with_every_remedy_and_round_trip(round_trip):
    keras.utils.set_random_seed(2)
    model = remedied_dcgan(generator_noise="reuse")
    model.compile(jit_compile=True)
    history = model.fit(pattern_images(16), batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    reloaded = round_trip(model, model.sample_noise(4, seed=2))
    assert reloaded.generator_noise == "reuse"


def test_reused_fakes_on_two_replicas_match_one_device():
    build = lambda seed: tiny_dcgan_with(seed=seed, generator_noise="reuse")  # noqa: E731
    one = _train_weights(tf.distribute.OneDeviceStrategy("/cpu:0"), build=build)
    two = _train_weights(make_strategy("mirrored", ["/cpu:0", "/cpu:1"]), build=build)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def tiny_dcgan_with(seed: int = 0, **kwargs) -> DCGAN:
    return DCGAN(build_dcgan_generator(16, 1, 8, 8), build_dcgan_discriminator(16, 1, 8),
                 seed=seed, **kwargs)


def test_unknown_generator_noise_is_a_user_error():
    from tfgan_apps.errors import UserError

    with pytest.raises(UserError, match="generator_noise must be one of"):
        tiny_dcgan_with(generator_noise="stale")
