"""Adversarial losses against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import losses
from tfgan_apps.errors import UserError

REAL = tf.constant([[2.0], [0.0]])
FAKE = tf.constant([[-1.0], [3.0]])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_non_saturating_pair():
    g = losses.non_saturating_generator_loss(FAKE)
    # -log sigmoid(l) = softplus(-l)
    assert float(g) == pytest.approx((softplus(1.0) + softplus(-3.0)) / 2, rel=1e-6)
    d = losses.non_saturating_discriminator_loss(REAL, FAKE)
    expected = (softplus(-2.0) + softplus(0.0)) / 2 + (softplus(-1.0) + softplus(3.0)) / 2
    assert float(d) == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_is_log_one_minus_d():
    d_fake = 1 / (1 + np.exp(-FAKE.numpy()))
    expected = np.mean(np.log(1 - d_fake))
    assert float(losses.minimax_generator_loss(FAKE)) == pytest.approx(expected, rel=1e-5)


def test_least_squares_pair():
    assert float(losses.least_squares_generator_loss(FAKE)) == pytest.approx(
        0.5 * ((-2.0) ** 2 + 2.0 ** 2) / 2)
    assert float(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(
        0.5 * (1.0 + 1.0) / 2 + 0.5 * (1.0 + 9.0) / 2)


def test_losses_average_over_patch_maps():
    patches = tf.zeros([2, 4, 4, 1])
    assert float(losses.non_saturating_generator_loss(patches)) == pytest.approx(math.log(2))


def test_unknown_loss_name():
    with pytest.raises(UserError, match="choose one of"):
        losses.get_adversarial_loss("wasserstein")


def test_hinge_pair():
    real = tf.constant([[2.0], [0.5]])
    fake = tf.constant([[-3.0], [0.25]])
    # D: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 0.5) / 2 + (0 + 1.25) / 2
    np.testing.assert_allclose(float(losses.hinge_discriminator_loss(real, fake)), 0.875)
    np.testing.assert_allclose(float(losses.hinge_generator_loss(fake)), 1.375)
    assert losses.get_adversarial_loss("hinge").score is tf.identity


def test_r1_penalty_of_a_linear_discriminator():
    """D(x) = <w, x> has gradient w for every image: R1 = 0.5 * ||w||^2."""
    w = tf.constant(np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3) / 10)
    x = tf.random.uniform((4, 2, 2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(x * w)
    penalty = losses.r1_penalty(tape.gradient(total, x))
    np.testing.assert_allclose(float(penalty), 0.5 * float(tf.reduce_sum(w * w)), rtol=1e-6)
