"""FusedAdam: Keras's Adam in TensorFlow's fused kernel trains like Adam, under strategies,
XLA and loss scaling, and serializes as itself."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.optimizers import FusedAdam
from tfgan_apps.training import make_strategy


def _train(optimizer_class, strategy=None, jit_compile=False, loss_scale=False, steps=6):
    """A variable after ``steps`` updates with fixed gradients (a decaying learning rate)."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=(40, 30)).astype("float32")
    grads = [rng.normal(size=(40, 30)).astype("float32") for _ in range(steps)]
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        variable = keras.Variable(start)
        optimizer = optimizer_class(
            learning_rate=keras.optimizers.schedules.PolynomialDecay(2e-2, steps, 1e-3),
            beta_1=0.5)
        if loss_scale:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build([variable])

    @tf.function(jit_compile=jit_compile)
    def step(gradient):
        def replica_step(g):
            # each replica's share; the optimizer all-reduces (sums) them
            share = g / strategy.num_replicas_in_sync
            if loss_scale:
                share = share * optimizer.dynamic_scale
            optimizer.apply([share], [variable])
        strategy.run(replica_step, args=(gradient,))

    for g in grads:
        step(tf.constant(g))
    return variable.numpy(), optimizer


def test_fused_adam_updates_like_keras_adam():
    expected, _ = _train(keras.optimizers.Adam)
    got, optimizer = _train(FusedAdam)
    assert int(optimizer.iterations) == 6
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    sgd = _train(lambda learning_rate, beta_1: keras.optimizers.SGD(learning_rate))[0]
    assert not np.allclose(got, sgd, atol=1e-3)  # a test that can fail


def test_fused_adam_under_xla_and_loss_scaling():
    expected, _ = _train(keras.optimizers.Adam)
    np.testing.assert_allclose(_train(FusedAdam, jit_compile=True)[0], expected,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_train(FusedAdam, loss_scale=True)[0], expected,
                               rtol=1e-5, atol=1e-6)


def test_fused_adam_on_two_replicas_matches_one_device():
    expected, _ = _train(keras.optimizers.Adam)
    mirrored = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    got, _ = _train(FusedAdam, strategy=mirrored)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_serializes_as_itself(amsgrad):
    optimizer = FusedAdam(learning_rate=3e-4, beta_1=0.5, amsgrad=amsgrad)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is FusedAdam
    assert restored.get_config() == optimizer.get_config()
    if amsgrad:  # no fused kernel for AMSGrad: Keras's own update, still Adam's figures
        expected, _ = _train(lambda **kw: keras.optimizers.Adam(amsgrad=True, **kw))
        got, _ = _train(lambda **kw: FusedAdam(amsgrad=True, **kw))
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
