"""CycleGAN: LR schedule, train_step, learning, serialization, resume, strategies and XLA."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import CycleGAN
from tfgan_apps.errors import UserError
from tfgan_apps.models.schedules import ConstantThenLinearDecay, cyclegan_optimizers
from tfgan_apps.networks import build_patch_discriminator, build_resnet_generator

FIGURES = {"g_ab_loss", "g_ba_loss", "d_a_loss", "d_b_loss", "cycle_loss", "identity_loss"}


def tiny_cyclegan(size: int = 16, seed: int = 0, **kwargs) -> CycleGAN:
    defaults = dict(image_size=size, base_filters=8, discriminator_filters=8,
                    discriminator_layers=2 if size < 32 else 3, num_residual_blocks=1,
                    pool_size=8, seed=seed)
    return CycleGAN(**{**defaults, **kwargs})


def rectangles(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """Domain A: dark images with one or two orange rectangles, [-1, 1]. B = -A (negative)."""
    rng = np.random.default_rng(seed)
    images = np.full((n, size, size, 3), -0.8, np.float32)
    for image in images:
        for _ in range(rng.integers(1, 3)):
            y, x = rng.integers(0, size - 4, 2)
            h, w = rng.integers(3, size // 2, 2)
            image[y:y + h, x:x + w] = (0.8, 0.4, 0.0)
    return images


def unpaired(n: int, size: int = 16, batch: int = 2, seed: int = 0) -> tf.data.Dataset:
    a, b = rectangles(n, size, seed), -rectangles(n, size, seed + 100)
    return tf.data.Dataset.from_tensor_slices((a, b)).batch(batch, drop_remainder=True)


# ------------------------------------------------------------------------------ LR schedule


def test_schedule_is_constant_then_linear_to_zero():
    schedule = ConstantThenLinearDecay(2e-4, epochs=10, steps_per_epoch=5, decay_start_epoch=4)
    at_epoch = {e: float(schedule(e * 5)) for e in (0, 1, 4, 5, 7, 9, 10, 12)}
    assert at_epoch[0] == at_epoch[1] == at_epoch[4] == pytest.approx(2e-4)
    assert at_epoch[5] == pytest.approx(2e-4 * 5 / 6)  # 1/6 of the decay done
    assert at_epoch[7] == pytest.approx(2e-4 * 3 / 6)
    assert at_epoch[9] == pytest.approx(2e-4 * 1 / 6)
    assert at_epoch[10] == at_epoch[12] == 0.0
    # within an epoch it decays step by step
    assert float(schedule(5 * 5 + 2)) == pytest.approx(2e-4 * (50 - 27) / 30)


def test_schedule_defaults_to_decay_over_the_second_half():
    schedule = ConstantThenLinearDecay(1.0, epochs=200, steps_per_epoch=3)
    assert schedule.decay_start_epoch == 100
    assert float(schedule(99 * 3)) == 1.0 and float(schedule(100 * 3)) == 1.0
    assert float(schedule(150 * 3)) == pytest.approx(0.5)
    constant = ConstantThenLinearDecay(1.0, epochs=4, steps_per_epoch=2, decay_start_epoch=4)
    assert float(constant(100)) == 1.0


def test_schedule_serializes_and_bad_arguments_are_rejected():
    schedule = ConstantThenLinearDecay(3e-4, epochs=6, steps_per_epoch=7, decay_start_epoch=2)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert clone.get_config() == schedule.get_config()
    with pytest.raises(UserError, match="decay_start_epoch"):
        ConstantThenLinearDecay(epochs=5, steps_per_epoch=1, decay_start_epoch=6)
    with pytest.raises(UserError, match="steps_per_epoch"):
        ConstantThenLinearDecay(epochs=5, steps_per_epoch=0)


def test_schedule_follows_the_optimizer_step_counter():
    _, g_optimizer = cyclegan_optimizers(epochs=4, steps_per_epoch=10, decay_start_epoch=2)
    g_optimizer.build([tf.Variable(0.0)])
    g_optimizer.iterations.assign(30)  # e.g. restored from a checkpoint
    assert float(g_optimizer.learning_rate) == pytest.approx(2e-4 * 0.5)
    assert g_optimizer.beta_1 == 0.5


# ------------------------------------------------------------------------------- train_step


def test_train_step_reports_the_documented_figures():
    keras.utils.set_random_seed(0)
    model = tiny_cyclegan()
    model.compile(jit_compile=False)
    history = model.fit(unpaired(8), epochs=1, verbose=0)
    assert set(history.history) == FIGURES
    assert all(np.isfinite(v[0]) and v[0] > 0 for v in history.history.values())
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 4
    assert int(model.pool_a.count) == int(model.pool_b.count) == 8
    assert model.optimizer is None


def test_non_saturating_loss_and_disabled_identity_and_pool():
    keras.utils.set_random_seed(1)
    model = tiny_cyclegan(lambda_identity=0.0, pool_size=0)
    model.compile(jit_compile=False, loss="non_saturating")
    history = model.fit(unpaired(4), epochs=1, verbose=0)
    assert history.history["identity_loss"] == [0.0]
    assert np.all(np.isfinite(history.history["d_a_loss"]))
    assert model.pool_a.weights == []


def test_unknown_loss_and_direction_are_clear_errors():
    model = tiny_cyclegan()
    with pytest.raises(UserError, match="least_squares"):
        model.compile(loss="minimax")
    with pytest.raises(UserError, match="direction"):
        model(np.zeros((1, 16, 16, 3), np.float32), direction="sideways")


def test_constructor_arguments_are_checked_before_building():
    with pytest.raises(UserError, match="generator must be one of"):
        tiny_cyclegan(generator="vit")
    with pytest.raises(UserError, match="lambda_cycle"):
        tiny_cyclegan(lambda_identity=-0.5)
    with pytest.raises(UserError, match="upsampling"):
        tiny_cyclegan(upsampling="pixelshuffle")


def test_every_update_goes_through_optimize(optimize_calls):
    model = tiny_cyclegan()
    model.compile(run_eagerly=True)  # eager: the spy sees every step, not one trace
    model.fit(unpaired(4), epochs=1, verbose=0)
    g_call = (model.g_optimizer, [v.path for v in model.generator_variables()])
    d_call = (model.d_optimizer, [v.path for v in model.discriminator_variables()])
    assert optimize_calls == [g_call, d_call] * 2  # the reference's order: G, then D
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 2
    assert int(model.step_counter.numpy()) == 2


# ------------------------------------------------------------------------------ evaluation


def test_evaluate_reports_the_training_figures_and_changes_nothing(state_unchanged):
    keras.utils.set_random_seed(2)
    model = tiny_cyclegan(pool_size=4)
    model.compile(jit_compile=False)
    model.fit(unpaired(4), epochs=1, verbose=0)  # the pools hold 4 fakes now
    a, b = rectangles(2, seed=8), -rectangles(2, seed=9)
    with state_unchanged(model):  # weights, optimizers, pools, step counter
        results = model.evaluate(tf.data.Dataset.from_tensor_slices((a, b)).batch(2),
                                 return_dict=True, verbose=0)
    assert set(results) == FIGURES
    assert all(np.isfinite(v) and v > 0 for v in results.values())
    # the discriminators judge the current fakes in inference mode, not the pools'
    lsgan = model.adversarial_loss.discriminator  # LSGAN: the reference's scale is ours
    fake_a = model.g_ba(b, training=False)
    assert results["d_a_loss"] == pytest.approx(
        float(lsgan(model.d_a(a, training=False), model.d_a(fake_a, training=False))), rel=1e-5)
    cycle = 10.0 * (np.abs(model.g_ba(model.g_ab(a)) - a).mean()
                    + np.abs(model.g_ab(fake_a) - b).mean())
    assert results["cycle_loss"] == pytest.approx(float(cycle), rel=1e-5)


def test_fit_with_validation_data_logs_val_figures():
    model = tiny_cyclegan(pool_size=8)
    model.compile(jit_compile=False)
    history = model.fit(unpaired(4), validation_data=unpaired(2, seed=3), epochs=1, verbose=0)
    assert {f"val_{k}" for k in FIGURES} <= set(history.history)
    assert int(model.pool_a.count) == 2 * 2  # the train steps' fakes only
    assert int(model.step_counter.numpy()) == 2


def test_mismatched_networks_are_rejected():
    with pytest.raises(ValueError, match="same image size"):
        CycleGAN(d_a=build_patch_discriminator(32, 3, None, 4, norm="instance"),
                 d_b=build_patch_discriminator(32, 3, None, 4, norm="instance"),
                 g_ab=build_resnet_generator(16, 3, 4, 1, fixed_size=True),
                 g_ba=build_resnet_generator(16, 3, 4, 1))


def test_translation_of_any_multiple_of_four_and_both_directions():
    model = tiny_cyclegan()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 20, 28, 3)).astype(np.float32)
    assert model.translate_a2b(x).shape == x.shape
    np.testing.assert_array_equal(model.translate_b2a(x), model.g_ba(x))
    np.testing.assert_array_equal(model(x), model.g_ab(x))


def test_unet_generator_option():
    model = CycleGAN(image_size=32, generator="unet", base_filters=4, discriminator_filters=4,
                     pool_size=2)
    assert model.g_ab.input_shape == (None, 32, 32, 3)
    assert not [la for la in model.g_ab.layers if isinstance(la, keras.layers.Dropout)]
    model.compile(jit_compile=False)
    model.fit(unpaired(2, size=32), epochs=1, verbose=0)


@pytest.mark.parametrize("generator", ["resnet", "unet"])
def test_generator_norm_none_option(generator, round_trip):
    """``generator_norm="none"`` builds both generators without instance norm (the
    discriminators keep theirs), trains, and survives the ``.keras`` round trip."""
    model = CycleGAN(image_size=32, generator=generator, generator_norm="none", base_filters=4,
                     discriminator_filters=4, num_residual_blocks=1, pool_size=2)
    for network in (model.g_ab, model.g_ba):
        assert not [la for la in network.layers
                    if isinstance(la, keras.layers.GroupNormalization)]
    assert [la for la in model.d_a.layers if isinstance(la, keras.layers.GroupNormalization)]
    model.compile(jit_compile=False)
    history = model.fit(unpaired(2, size=32), epochs=1, verbose=0).history
    assert np.isfinite(history["cycle_loss"][-1])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    round_trip(model, x, call=lambda m, inputs: m.translate_a2b(inputs))


@pytest.mark.slow
def _a2b_error_before_and_after_training() -> tuple[float, float, float]:
    """A few hundred steps at batch 1 on rectangles vs their negatives (the paper's batch):
    ``(error before, error after, error of the identity)``."""
    keras.utils.set_random_seed(0)
    train = tf.data.Dataset.from_tensor_slices(
        (rectangles(256, seed=1), -rectangles(256, seed=2))).shuffle(256, seed=0).repeat()
    test = rectangles(32, seed=3)
    model = tiny_cyclegan(pool_size=16, num_residual_blocks=2)
    model.compile(jit_compile=False)

    def error() -> float:
        return float(np.abs(model.translate_a2b(test).numpy() - (-test)).mean())

    before = error()
    model.fit(train.batch(1), epochs=6, steps_per_epoch=50, verbose=0)
    return before, error(), float(np.abs(test - (-test)).mean())


_LEARNING = """
import sys
sys.path.insert(0, {here!r})
from test_cyclegan import _a2b_error_before_and_after_training
print("ERRORS", *_a2b_error_before_and_after_training())
"""


def run_without_onednn(script: str) -> str:
    """Run ``script`` (``{here}``: this folder) in a fresh Python with TensorFlow's oneDNN
    kernels off; returns its stdout. Those kernels depend on the CPU: their rounding, which a
    GAN amplifies step by step, makes the tight figures below machine-dependent."""
    done = subprocess.run(
        [sys.executable, "-c", script.format(here=os.path.dirname(os.path.abspath(__file__)))],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_training_moves_a2b_towards_the_true_negative():
    line = next(x for x in run_without_onednn(_LEARNING).splitlines() if x.startswith("ERRORS"))
    before, after, identity = (float(v) for v in line.split()[1:])
    # TF 2.21 / Keras 3.15.1 / NumPy 2.4 (2026-12-01): 0.659 -> 0.347, identity 1.498; an
    # untrained or diverging model stays near `before` or above. (The ratio was under 0.5
    # with earlier package versions; 500 steps gave 0.56: the adversarial game oscillates, so
    # the bound is on this step count.) Eigen's kernels round differently by CPU too: on a
    # 2-core AMD EPYC without AVX-512 (2026-12-02) the same run gave 0.659 -> 0.402 (0.27 of
    # identity), so the bounds leave room for that while an untrained model (0.44 of
    # identity, 1.0 of before) still fails both.
    assert after < 0.7 * before, (before, after)
    assert after < 0.3 * identity, (identity, after)


# ---------------------------------------------------------------------------- serialization


def test_keras_round_trip_gives_identical_outputs(round_trip):
    keras.utils.set_random_seed(0)
    model = tiny_cyclegan()
    model.compile(*cyclegan_optimizers(epochs=2, steps_per_epoch=2), jit_compile=False,
                  loss="non_saturating")
    model.fit(unpaired(4), epochs=1, verbose=0)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    reloaded = round_trip(model, x, call=lambda m, x: np.concatenate(
        [m.translate_a2b(x), m.translate_b2a(x)]))
    assert reloaded.loss_name == "non_saturating"
    assert isinstance(reloaded.g_optimizer._learning_rate, ConstantThenLinearDecay)
    assert int(reloaded.d_optimizer.iterations) == 2
    np.testing.assert_array_equal(reloaded.pool_b.images, model.pool_b.images)
    assert int(reloaded.pool_b.count) == 4
    assert reloaded.lambda_cycle == 10.0 and reloaded.lambda_identity == 0.5


def _trained_weights(model: CycleGAN) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.weights]


@pytest.mark.slow
def test_checkpoint_resume_continues_exactly(tmp_path):
    """weights, optimizer state, LR position and pools: a resumed run equals an unbroken one."""
    data = unpaired(12, seed=5)
    first, rest = data.take(3), data.skip(3)

    def fresh() -> CycleGAN:
        keras.utils.set_random_seed(7)
        model = tiny_cyclegan(seed=3, pool_size=4)
        model.compile(*cyclegan_optimizers(epochs=2, steps_per_epoch=3), jit_compile=False)
        return model

    unbroken = fresh()
    unbroken.fit(first, epochs=1, verbose=0)
    unbroken.fit(rest, epochs=1, verbose=0)

    interrupted = fresh()
    interrupted.fit(first, epochs=1, verbose=0)
    path = tf.train.Checkpoint(model=interrupted).save(str(tmp_path / "ckpt"))
    resumed = fresh()
    keras.utils.set_random_seed(99)  # nothing may depend on the global RNG any more
    tf.train.Checkpoint(model=resumed).restore(path).assert_existing_objects_matched()
    assert int(resumed.pool_a.count) == 4 and int(resumed.g_optimizer.iterations) == 3
    assert int(resumed.step_counter.numpy()) == 3
    resumed.fit(rest, epochs=1, verbose=0)
    for a, b in zip(_trained_weights(unbroken), _trained_weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ strategies and XLA


def _weights_after_training(
        strategy: tf.distribute.Strategy) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(weights before, weights after) three SGD steps of a tiny CycleGAN under ``strategy``."""
    data = unpaired(12, batch=4, seed=6)
    with strategy.scope():
        keras.utils.set_random_seed(42)
        model = tiny_cyclegan(seed=11, pool_size=6)
        # SGD, not Adam: Adam's step ignores the gradient's scale, so it would hide a wrong
        # per-replica loss scaling.
        model.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3), jit_compile=False)
    before = _trained_weights(model)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    return before, _trained_weights(model)


_MIRRORED_VS_ONE_DEVICE = """
import sys
import numpy as np
import tensorflow as tf
cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
sys.path.insert(0, {here!r})
from test_cyclegan import _weights_after_training
from tfgan_apps.training import make_strategy
start_one, one = _weights_after_training(tf.distribute.OneDeviceStrategy("/cpu:0"))
start_two, two = _weights_after_training(make_strategy("mirrored", ["/cpu:0", "/cpu:1"]))
worst = 0.0
for s1, a, s2, b in zip(start_one, one, start_two, two, strict=True):
    np.testing.assert_array_equal(s1, s2)  # same start, or the comparison means nothing
    step_one, step_two = a.astype(np.float64) - s1, b.astype(np.float64) - s2
    error = np.linalg.norm(step_two - step_one) / (np.linalg.norm(step_one) + 1e-6)
    worst = max(worst, error)
print("worst relative step error", worst)
print("MATCH" if worst <= 0.02 else "DIFFER")
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpus_matches_one_device():
    # Compared as each variable's change over three steps, relative to its size: rounding moves
    # single elements by ~1e-4 on some CPUs (an AVX2-only EPYC: 1.9e-4 in the 7x7 stem), but the
    # whole step by ~3e-4 of its norm at most, while a wrong per-replica loss scale (the bug this
    # test is for) is off by 0.5 or more. Without oneDNN, whose kernel choice depends on the
    # per-replica batch and is amplified step by step.
    out = run_without_onednn(_MIRRORED_VS_ONE_DEVICE)
    assert "MATCH" in out, out


@pytest.mark.slow
def test_xla_on_one_device_trains_like_graph_mode():
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(3)
        model = tiny_cyclegan(size=32, num_residual_blocks=1, base_filters=4)
        model.compile(jit_compile=jit)
        history = model.fit(unpaired(4, size=32), epochs=1, verbose=0)  # 2 steps
        results.append([history.history[k] for k in sorted(FIGURES)])
    # Float rounding differs between the two compilers, and a GAN amplifies it step by step:
    # compare the first steps only.
    np.testing.assert_allclose(results[0], results[1], rtol=1e-2, atol=1e-4)
