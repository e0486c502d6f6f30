"""Spectrally normalized layers: sigma against numpy's SVD, gradients through sigma,
serialization, and inference that does not move the power-iteration state."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfgan_apps.layers import SpectralConv2D, SpectralDense


def _converge(layer, inputs, calls: int = 50):
    for _ in range(calls):
        layer(inputs, training=True)


def test_conv_sigma_converges_to_the_largest_singular_value():
    layer = SpectralConv2D(8, 3, padding="same")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 4)).astype(np.float32)
    _converge(layer, x)
    kernel = layer.kernel.numpy().reshape(-1, 8)
    np.testing.assert_allclose(float(layer.spectral_sigma()),
                               np.linalg.svd(kernel, compute_uv=False)[0], rtol=1e-3)
    # the layer computes conv(x, W / sigma) + b
    reference = keras.layers.Conv2D(8, 3, padding="same")
    reference.build(x.shape)
    reference.set_weights([layer.kernel.numpy() / float(layer.spectral_sigma()),
                           layer.bias.numpy()])
    np.testing.assert_allclose(layer(x).numpy(), reference(x).numpy(), rtol=1e-4, atol=1e-5)


def test_dense_normalized_kernel_has_unit_spectral_norm():
    layer = SpectralDense(5)
    x = np.ones((3, 7), np.float32)
    _converge(layer, x)
    normalized = np.asarray(layer.normalized_kernel())
    np.testing.assert_allclose(np.linalg.svd(normalized, compute_uv=False)[0], 1.0, rtol=1e-3)


def test_gradient_flows_through_sigma():
    """d/dW of sum(x @ W / sigma(W)) includes the -W u u^T / sigma^2 term of the division."""
    layer = SpectralDense(4, use_bias=False)
    x = tf.constant(np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32))
    _converge(layer, x)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x))
    gradient = tape.gradient(y, layer.kernel.value).numpy()
    w = layer.kernel.numpy()
    u = layer.spectral_u.numpy()  # [1, units], unchanged by a training=False call
    sigma = np.linalg.norm(w @ u.T)
    g_out = x.numpy().sum(0, keepdims=True).T @ np.ones((1, 4))  # d sum(x W') / d W'
    w_normalized = w / sigma
    # d sigma / d W = (W u^T) u / sigma, with u held fixed (stop_gradient)
    d_sigma = (w @ u.T) @ u / sigma
    expected = g_out / sigma - (g_out * w_normalized).sum() / sigma * d_sigma
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def test_inference_leaves_u_alone_and_training_updates_it():
    layer = SpectralConv2D(4, 3)
    x = np.zeros((1, 6, 6, 2), np.float32)
    layer(x)
    before = layer.spectral_u.numpy().copy()
    layer(x, training=False)
    np.testing.assert_array_equal(layer.spectral_u.numpy(), before)
    layer(x, training=True)
    assert not np.array_equal(layer.spectral_u.numpy(), before)


def test_layers_round_trip_through_keras_files_with_their_state(round_trip):
    x = np.random.default_rng(2).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    inputs = keras.Input((8, 8, 3))
    features = SpectralConv2D(4, 3, strides=2, power_iterations=2, name="sn_conv")(inputs)
    outputs = SpectralDense(1, name="sn_dense")(keras.layers.Flatten()(features))
    model = keras.Model(inputs, outputs)
    model(x, training=True)  # move u away from its initial value
    reloaded = round_trip(model, x)
    np.testing.assert_array_equal(reloaded.get_layer("sn_conv").spectral_u.numpy(),
                                  model.get_layer("sn_conv").spectral_u.numpy())
    assert reloaded.get_layer("sn_conv").power_iterations == 2
