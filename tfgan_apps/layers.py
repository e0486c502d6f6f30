"""Spectrally normalized layers (Miyato et al. 2018, https://arxiv.org/abs/1802.05957).

``SpectralConv2D`` and ``SpectralDense`` are ``Conv2D`` / ``Dense`` whose kernel is divided by
its largest singular value sigma, estimated by one power iteration per training call from a
persistent vector ``u``: the layer is then 1-Lipschitz, which bounds how sharply the
discriminator can separate real from fake.

Why not ``keras.layers.SpectralNormalization``: it *overwrites* the wrapped kernel with
``W / sigma`` on every training call, so the gradient never sees the division (the kernel's
norm is projected, not reparametrised as in the paper), and it assigns the kernel in replica
context, which a ``MirroredStrategy`` variable refuses. Here the kernel variable stays ``W``,
``W / sigma`` is computed in the forward pass (gradients flow through sigma, as in the paper
and in PyTorch's ``spectral_norm``), and only ``u`` (non-trainable, identical on every
replica because W is) is updated.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


class _SpectralNormalization:
    """The power iteration shared by the two layers (a mixin over a layer with ``kernel``)."""

    def __init__(self, *args: Any, power_iterations: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")
        self.power_iterations = int(power_iterations)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "power_iterations": self.power_iterations}

    def _add_spectral_vector(self, units: int) -> None:
        self.spectral_u = self.add_weight(
            shape=(1, units), initializer=keras.initializers.RandomNormal(stddev=1.0),
            trainable=False, autocast=False, name="spectral_u")

    def spectral_sigma(self, training: bool = False) -> Any:
        """The float32 scalar estimate of the kernel's largest singular value.

        ``training``: run :attr:`power_iterations` iterations from ``u`` and store the new
        ``u``; otherwise use the stored ``u`` as it is (inference is then deterministic).
        """
        kernel = ops.cast(self.kernel, "float32")
        weights = ops.reshape(kernel, (-1, kernel.shape[-1]))  # [fan_in, units]
        u = ops.convert_to_tensor(self.spectral_u)
        for _ in range(self.power_iterations if training else 0):
            v = _l2_normalize(ops.matmul(u, ops.transpose(weights)))
            u = _l2_normalize(ops.matmul(v, weights))
        u = ops.stop_gradient(u)
        if training:
            self.spectral_u.assign(u)
        # ||W u|| with ||u|| = 1: the Rayleigh estimate of sigma; differentiable in W.
        return ops.sqrt(ops.sum(ops.square(ops.matmul(weights, ops.transpose(u)))) + 1e-12)

    def _own_variables(self) -> list:
        bias = [self.bias] if self.bias is not None else []
        return [self._kernel, *bias, self.spectral_u]

    # Conv2D/Dense save only kernel and bias (their quantization-aware code); u is state too.
    def save_own_variables(self, store: Any) -> None:
        if self.built:
            for index, variable in enumerate(self._own_variables()):
                store[str(index)] = variable

    def load_own_variables(self, store: Any) -> None:
        variables = self._own_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(f"layer {self.name!r} expected {len(variables)} variables, got "
                             f"{len(store.keys())}")
        for index, variable in enumerate(variables):
            variable.assign(store[str(index)])

    def normalized_kernel(self, training: bool = False) -> Any:
        """``W / sigma`` in the layer's compute dtype."""
        kernel = ops.cast(self.kernel, "float32") / self.spectral_sigma(training)
        return ops.cast(kernel, self.compute_dtype)


def _l2_normalize(x: Any) -> Any:
    return x / ops.sqrt(ops.sum(ops.square(x)) + 1e-12)


@keras.saving.register_keras_serializable(package="tfgan_apps")
class SpectralConv2D(_SpectralNormalization, layers.Conv2D):
    """``keras.layers.Conv2D`` with a spectrally normalized kernel.

    Args:
        *args: ``Conv2D``'s (filters, kernel_size, ...).
        power_iterations: power iterations per training call (1, the paper's).
        **kwargs: ``Conv2D``'s.

    Input/output as ``Conv2D`` (NHWC).
    """

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._add_spectral_vector(self.filters)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        outputs = self.convolution_op(inputs, self.normalized_kernel(bool(training)))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package="tfgan_apps")
class SpectralDense(_SpectralNormalization, layers.Dense):
    """``keras.layers.Dense`` with a spectrally normalized kernel (``[batch, ..., in]`` ->
    ``[batch, ..., units]``).

    Args:
        *args: ``Dense``'s (units, ...).
        power_iterations: power iterations per training call.
        **kwargs: ``Dense``'s.
    """

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._add_spectral_vector(self.units)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        outputs = ops.matmul(inputs, self.normalized_kernel(bool(training)))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs
