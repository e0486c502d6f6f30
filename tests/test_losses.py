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
        losses.get_adversarial_loss("hinge")
