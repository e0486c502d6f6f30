"""DiffAugment: each transformation against a direct numpy computation, differentiability,
and the same draws with and without XLA and on N replicas' slices."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import augment
from tfgan_apps.errors import UserError

SEED = tf.constant([3, 4], tf.int64)


def images(n: int = 6, size: int = 16, channels: int = 3, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (n, size, size, channels)).astype(np.float32))


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Direct zero-padded translation: out[i, j] = in[i - dy, j - dx]."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = image[i - dy, j - dx]
    return out


def test_translation_is_a_zero_padded_integer_shift_within_an_eighth():
    x = images().numpy()
    out = augment.random_translation(tf.constant(x), SEED).numpy()
    for image, result in zip(x, out, strict=True):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(_shift(image, dy, dx), result)]
        assert len(matches) == 1  # 16 px * 1/8 = at most 2 px each way


def test_cutout_zeroes_one_half_size_square_and_keeps_the_rest():
    x = images(n=8).numpy() * 0.5 + 0.6  # no zeros in the input
    out = augment.random_cutout(tf.constant(x), SEED).numpy()
    for image, result in zip(x, out, strict=True):
        zeroed = np.all(result == 0, axis=-1)
        np.testing.assert_array_equal(result[~zeroed], image[~zeroed])
        rows, cols = np.nonzero(zeroed)
        assert len(rows) > 0
        # a (clipped) axis-aligned rectangle, at most 8 x 8 (half of 16)
        assert rows.max() - rows.min() + 1 <= 8 and cols.max() - cols.min() + 1 <= 8
        assert zeroed.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_colour_jitter_matches_the_reference_formula():
    x = images(n=4)
    out = augment.random_color(x, SEED).numpy()
    # the same three per-image draws, then the reference code's formulas in numpy
    draws = augment._Draws(tf.constant(4), 0, None)
    seeds = augment._split(SEED, 3)
    brightness, saturation, contrast = (draws.uniform(seeds[i], tf.float32).numpy()
                                        for i in range(3))
    expected = x.numpy() + (brightness - 0.5)
    mean = expected.mean(axis=3, keepdims=True)
    expected = (expected - mean) * (saturation * 2) + mean
    mean = expected.mean(axis=(1, 2, 3), keepdims=True)
    expected = (expected - mean) * (contrast + 0.5) + mean
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert brightness.std() > 0  # one draw per image, not one per batch


def test_every_transformation_is_differentiable():
    x = images()
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(augment.differentiable_augment(x, SEED) * x)
    gradient = tape.gradient(loss, x)
    assert gradient is not None and float(tf.reduce_mean(tf.abs(gradient))) > 0


def test_same_draws_with_and_without_xla():
    x = images()
    eager = augment.differentiable_augment(x, SEED)
    compiled = tf.function(augment.differentiable_augment, jit_compile=True)(x, SEED)
    np.testing.assert_allclose(eager.numpy(), compiled.numpy(), atol=1e-5)


def test_a_replica_slice_is_augmented_as_in_the_global_batch():
    x = images(n=8)
    whole = augment.differentiable_augment(x, SEED).numpy()
    halves = [augment.differentiable_augment(x[i * 4:(i + 1) * 4], SEED, batch_offset=i * 4,
                                             global_batch=8).numpy() for i in range(2)]
    np.testing.assert_allclose(np.concatenate(halves), whole, atol=1e-6)


def test_seed_changes_the_draws_and_none_is_the_identity():
    x = images()
    a = augment.differentiable_augment(x, SEED).numpy()
    b = augment.differentiable_augment(x, tf.constant([3, 5], tf.int64)).numpy()
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(augment.differentiable_augment(x, SEED, "none").numpy(),
                                  x.numpy())


def test_grayscale_images_are_supported():
    out = augment.differentiable_augment(images(channels=1), SEED)
    assert out.shape == (6, 16, 16, 1)


def test_unknown_transformation_names_the_known_ones():
    with pytest.raises(UserError, match="color"):
        augment.parse_policy("colour,translation")
    assert augment.parse_policy("none") == ()
