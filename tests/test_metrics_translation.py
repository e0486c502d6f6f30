"""Image-translation metrics: PSNR, SSIM, colour sliced-Wasserstein, edge correlation."""

from __future__ import annotations

import numpy as np
import pytest

from tfgan_apps.data.convert import to_signed_unit
from tfgan_apps.metrics import (
    colour_sliced_wasserstein,
    edge_correlation,
    psnr,
    relative_colour_sliced_wasserstein,
    ssim,
)


def scenes(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    """uint8 [n, size, size, 3]: light backgrounds with a dark rectangle."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.uint8)
    for image in images:
        image[:] = rng.integers(180, 240, 3)
        y, x = rng.integers(2, size // 2, 2)
        image[y:y + size // 3, x:x + size // 3] = rng.integers(20, 120, 3)
    return images


def test_psnr_against_the_formula_for_uint8_and_signed_inputs():
    a = scenes(3)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    mse = ((a.astype(float) - b) ** 2).mean(axis=(1, 2, 3))
    expected = 10 * np.log10(255.0**2 / mse)
    np.testing.assert_allclose(psnr(a, b), expected, rtol=1e-4)
    signed_a, signed_b = to_signed_unit(a).numpy(), to_signed_unit(b).numpy()
    np.testing.assert_allclose(psnr(signed_a, signed_b), expected, rtol=1e-4)
    assert psnr(a[0], b[0]).shape == ()


def test_ssim_is_one_for_identical_and_lower_otherwise():
    a = scenes(2)
    np.testing.assert_allclose(ssim(a, a), 1.0, atol=1e-6)
    assert np.all(ssim(a, 255 - a) < 0.5)
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[:, :8, :8], a[:, :8, :8])


def test_mismatched_shapes_and_dtypes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        psnr(scenes(2), scenes(3))
    with pytest.raises(ValueError, match="uint8"):
        psnr(scenes(2).astype(np.int32), scenes(2).astype(np.int32))


def test_colour_sliced_wasserstein():
    a, b = scenes(8, seed=1), scenes(8, seed=2)
    assert colour_sliced_wasserstein(a, a) == 0.0
    same_distribution = colour_sliced_wasserstein(a, b)
    negatives = colour_sliced_wasserstein(a, 255 - b)
    assert same_distribution < 0.1 * negatives
    # a shift of every channel by d moves every projection by about d * |sum(u)|
    shifted = colour_sliced_wasserstein(a, a - 51)
    assert 0.05 < shifted < 0.2 * np.sqrt(3)


def test_relative_colour_sliced_wasserstein_is_one_for_identity():
    a, b = scenes(8, seed=1), 255 - scenes(8, seed=2)
    assert relative_colour_sliced_wasserstein(a, a, b) == pytest.approx(1.0)
    assert relative_colour_sliced_wasserstein(255 - a, a, b) < 0.1


def test_edge_correlation():
    a = scenes(4, seed=3)
    np.testing.assert_allclose(edge_correlation(a, a), 1.0, atol=1e-5)
    np.testing.assert_allclose(edge_correlation(255 - a, a), 1.0, atol=1e-5)  # negatives too
    unrelated = edge_correlation(scenes(4, seed=4), a)
    assert unrelated.mean() < 0.5
    flat = np.full((1, 16, 16, 3), 100, np.uint8)
    assert np.isnan(edge_correlation(flat, flat)[0])  # nothing to preserve
    # a flat output of a scene with edges preserved none of them
    flat_scenes = np.full_like(a, 100)
    np.testing.assert_array_equal(edge_correlation(flat_scenes, a), 0.0)
    assert np.isnan(edge_correlation(a, flat_scenes)).all()
