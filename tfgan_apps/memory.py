"""How much memory training a network would take, estimated before it is built.

Building a network allocates its weights, so a setting that cannot fit (``--image-size 4096``
for a DCGAN asks for billions of parameters) must be refused from an estimate. The estimate
builds the same networks at widths 2, 4 and 6, where they are tiny, and extrapolates: when
every layer's filters are proportional to the width, a layer's parameters are a quadratic in
it (kernel = in x out filters, plus biases and norms) and its activations linear, so three
points give the exact counts at any width.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Sequence

import keras

#: float32 copies of every parameter while training: the weights, their gradients, Adam's two
#: moments, and one more (a generator EMA, spectral-norm vectors, temporaries)
PARAMETER_COPIES = 5
#: float32 values kept per activation value for the backward pass and its gradients
ACTIVATION_COPIES = 3


def activation_values(model: keras.Model) -> int:
    """Values per example of every layer output of a functional ``model``."""
    total = 0
    for layer in model.layers:
        for node_output in keras.tree.flatten(layer.output):
            total += math.prod(d for d in node_output.shape[1:] if d is not None)
    return total


#: the widths the networks are built at (even, so a layer at half the width stays exact)
_WIDTHS = (2, 4, 6)


def _through_three(values: Sequence[float], x: float) -> float:
    """The quadratic through ``(_WIDTHS[i], values[i])`` at ``x`` (Lagrange)."""
    (x1, x2, x3), (y1, y2, y3) = _WIDTHS, values
    return (y1 * (x - x2) * (x - x3) / ((x1 - x2) * (x1 - x3))
            + y2 * (x - x1) * (x - x3) / ((x2 - x1) * (x2 - x3))
            + y3 * (x - x1) * (x - x2) / ((x3 - x1) * (x3 - x2)))


def scaled_network_size(build: Callable[[int], Sequence[keras.Model]], width: int
                        ) -> tuple[int, int]:
    """``(parameters, activation values per example)`` of the networks ``build(width)`` would
    make, without building them at ``width``.

    Args:
        build: ``width -> networks``; every layer's filters must be proportional to ``width``
            (no caps), as in the DCGAN builders.
        width: the width to estimate.
    """
    parameters, activations = [], []
    for w in _WIDTHS:
        networks = build(w)
        parameters.append(sum(n.count_params() for n in networks))
        activations.append(sum(activation_values(n) for n in networks))
        del networks
        gc.collect()  # a large image size makes even these widths hold hundreds of MB
    return (round(_through_three(parameters, width)), round(_through_three(activations, width)))


def training_bytes(parameters: int, activations_per_example: int, batch_size: int) -> int:
    """Estimated float32 bytes to train networks of this size at ``batch_size``."""
    return 4 * (PARAMETER_COPIES * parameters + ACTIVATION_COPIES * batch_size
                * activations_per_example)


def physical_memory_bytes() -> int | None:
    """This machine's RAM, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(size: float) -> str:
    """``size`` bytes as ``'12.3 GB'``."""
    return f"{size / 1e9:.1f} GB"
