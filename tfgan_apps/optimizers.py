"""``FusedAdam``: Keras's Adam with each variable's update in TensorFlow's fused kernel.

Keras 3's ``Adam.update_step`` is written in backend-neutral ops: about ten element-wise
kernels per variable and step (two ``assign_add``, one ``assign_sub``, and the squares,
square roots, products and quotients between them), each a full pass over the variable's
memory. For the 54 M-parameter U-Net of pix2pix-256 at batch 1 these passes took about a fifth
of a bf16 step on 2 CPU cores (``benchmarks/throughput.py --profile``). TensorFlow's
``ResourceApplyAdam`` kernel does the same update in one pass over ``var``, ``m``, ``v`` and
the gradient.

The arithmetic is Adam's, as Keras writes it (Kingma & Ba 2015, with epsilon outside the
square root)::

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
    var -= alpha * m / (sqrt(v) + epsilon)

so a ``FusedAdam`` trains like ``keras.optimizers.Adam`` up to float rounding, and its
variables, config and checkpoints are Adam's. Where the fused kernel does not apply (AMSGrad,
sparse gradients, or a backend other than TensorFlow) it falls back to Keras's own update.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfgan_apps")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same arguments) whose dense updates run in TensorFlow's
    fused ``ResourceApplyAdam`` kernel: one pass over each variable instead of about ten."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        var = variable.value if isinstance(variable, keras.Variable) else variable
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        dtype = var.dtype
        step = tf.cast(self.iterations + 1, dtype)
        # Under a tf.distribute strategy this runs inside strategy.extended.update(), where a
        # mirrored slot's .handle is this device's copy.
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype), epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype), use_locking=False)
