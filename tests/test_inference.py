"""Translating any size: reflection padding to a multiple of 4, and tiling with blended seams."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.inference import (
    _axis_tiles,
    fixed_input_size,
    translate,
    translate_any_size,
    translate_tiled,
)
from tfgan_apps.networks import build_resnet_generator, build_unet_generator


@pytest.fixture(scope="module")
def generator():
    tf.keras.utils.set_random_seed(0)
    return build_resnet_generator(32, base_filters=4, num_residual_blocks=1)


def noise(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (2, 5, 7, 3), (1, 33, 47, 3), (1, 64, 64, 3)])
def test_any_size_gives_the_input_size_back(generator, shape):
    out = translate_any_size(generator, noise(shape)).numpy()
    assert out.shape == shape
    assert out.min() >= -1 and out.max() <= 1


def test_multiples_of_four_are_translated_unpadded(generator):
    x = noise((1, 24, 36, 3))
    np.testing.assert_allclose(translate_any_size(generator, x), generator(x), atol=1e-6)


def test_any_size_runs_in_a_tf_function_with_dynamic_shapes(generator):
    fn = tf.function(lambda x: translate_any_size(generator, x),
                     input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    assert fn(noise((1, 10, 13, 3))).shape == (1, 10, 13, 3)
    assert fn(noise((2, 21, 8, 3))).shape == (2, 21, 8, 3)


def test_too_small_images_are_an_error(generator):
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 4x4"):
        translate_any_size(generator, noise((1, 3, 9, 3)))


def test_tile_weights_cover_every_pixel():
    for length, tile, overlap in [(100, 32, 8), (64, 32, 16), (33, 32, 8), (20, 32, 8)]:
        total = np.zeros(length)
        for start, weights in _axis_tiles(length, tile, overlap):
            total[start:start + len(weights)] += weights
        assert total.min() > 0.2, (length, tile, overlap)
    starts = [s for s, _ in _axis_tiles(100, 32, 8)]
    assert starts == [0, 24, 48, 68]  # stride tile - overlap, the last tile flush with the end


@pytest.mark.parametrize("shape,tile", [((1, 50, 70, 3), 32), ((2, 37, 29, 3), 16),
                                        ((1, 20, 20, 3), 32)])
def test_tiled_gives_the_input_size_back(generator, shape, tile):
    out = translate_tiled(generator, noise(shape), tile)
    assert out.shape == shape and np.isfinite(out).all()


def test_tiled_is_close_to_untiled(generator):
    """Instance norm sees each tile's own statistics, so tiles match closely, not exactly; on a
    statistically homogeneous image the blend stays near the untiled result everywhere."""
    x = noise((1, 96, 128, 3), seed=1)
    whole = translate(generator, x)
    tiled = translate(generator, x, tile=64, overlap=32)
    other = translate(generator, noise((1, 96, 128, 3), seed=2))
    error = np.abs(tiled - whole).mean()
    assert error < 0.2 * np.abs(other - whole).mean(), error
    assert error < 0.3 * whole.std(), (error, whole.std())
    # an image no larger than the tile is translated whole, exactly
    small = noise((1, 40, 44, 3))
    np.testing.assert_allclose(translate(generator, small, tile=64), translate(generator, small),
                               atol=1e-6)


def test_bad_tiles_are_rejected(generator):
    with pytest.raises(UserError, match="multiple of 4"):
        translate_tiled(generator, noise((1, 40, 40, 3)), 30)
    with pytest.raises(UserError, match="overlap"):
        translate_tiled(generator, noise((1, 40, 40, 3)), 32, overlap=32)


def test_fixed_size_generators_are_tiled_at_their_size():
    unet = build_unet_generator(32, base_filters=2, norm="instance", dropout=0.0)
    assert fixed_input_size(unet) == (32, 32)
    out = translate(unet, noise((1, 48, 40, 3)))
    assert out.shape == (1, 48, 40, 3)
    with pytest.raises(UserError, match="32x32"):
        translate(unet, noise((1, 16, 40, 3)))
