"""Mixed precision: the Keras dtype policy of each ``TrainConfig.precision`` and a scope that
builds networks under it.

``fp32`` computes in float32; ``bf16`` is Keras's ``mixed_bfloat16`` policy and ``fp16`` its
``mixed_float16``: layers compute in 16 bits while their variables stay float32 (see
https://keras.io/api/mixed_precision/). The policy is set only while the networks are built
(:func:`precision_scope`), never for the whole process: every layer then carries its policy in
its config, so a saved ``.keras`` model, its checkpoints and its exports compute exactly as it
was trained, whatever the global policy is when they are loaded. The networks' last layers
(generator tanh, discriminator logits, segmentation logits) are float32 by construction
(:mod:`tfgan_apps.networks`), so losses, metrics, CycleGAN's image pool and exports see
float32. ``fp16``'s loss scaling is the model's (``AdversarialModel.compile`` wraps each
optimizer in a ``keras.optimizers.LossScaleOptimizer`` when a network computes in float16).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from tfgan_apps.config import PRECISIONS
from tfgan_apps.errors import UserError

#: ``TrainConfig.precision`` (:data:`tfgan_apps.config.PRECISIONS`) -> Keras dtype policy name
PRECISION_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def dtype_policy_name(precision: str) -> str:
    """The Keras dtype policy name of ``precision`` (``fp32``, ``bf16``, ``fp16``).

    Raises:
        UserError: an unknown precision, naming the accepted ones.
    """
    if precision not in PRECISION_POLICIES:
        raise UserError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}",
                        option="precision")
    return PRECISION_POLICIES[precision]


@contextlib.contextmanager
def precision_scope(precision: str) -> Iterator[keras.DTypePolicy]:
    """Build networks under the dtype policy of ``precision``; the previous global policy is
    restored on exit (also after an exception).

    Keras's global policy is per thread; only layers created inside the block take it.

    Example:
        >>> with precision_scope("bf16"):
        ...     generator = build_dcgan_generator(32)
        >>> generator.get_layer("project").dtype_policy.name, generator.output.dtype
        ('mixed_bfloat16', 'float32')
    """
    policy = keras.dtype_policies.get(dtype_policy_name(precision))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)
