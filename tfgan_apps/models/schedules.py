"""Learning-rate schedules and the optimizers that use them (CycleGAN's constant-then-linear
decay)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.optimizers import FusedAdam


@keras.saving.register_keras_serializable(package="tfgan_apps")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """CycleGAN's schedule: constant, then linear decay to 0 at the end of training.

    With ``T = epochs * steps_per_epoch`` and ``T0 = decay_start_epoch * steps_per_epoch``,
    the learning rate at optimizer step ``t`` (``optimizer.iterations``, 0-based) is
    ``initial_learning_rate * min(1, (T - t) / (T - T0))``, clipped at 0: e.g. for 200 epochs
    and the default ``decay_start_epoch = epochs // 2``, epochs 0..99 use 2e-4 and the rate
    falls linearly to 0 over epochs 100..199 (the reference steps it once per epoch; here it
    decays every step). Because it is a function of the optimizer's step counter, a restored
    optimizer resumes exactly where it stopped.

    Args:
        initial_learning_rate: rate of the constant phase (2e-4 in the paper).
        epochs: total number of training epochs.
        steps_per_epoch: optimizer steps per epoch.
        decay_start_epoch: epoch at which the decay starts (default ``epochs // 2``); equal to
            `epochs` keeps the rate constant.
    """

    def __init__(self, initial_learning_rate: float = 2e-4, epochs: int = 200,
                 steps_per_epoch: int = 1, decay_start_epoch: int | None = None,
                 name: str = "constant_then_linear_decay") -> None:
        super().__init__()
        for key, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserError(f"{key} must be a positive integer, got {value!r}")
        if decay_start_epoch is None:
            decay_start_epoch = epochs // 2
        if not 0 <= decay_start_epoch <= epochs:
            raise UserError(
                f"decay_start_epoch must be in [0, epochs={epochs}], got {decay_start_epoch!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.epochs = int(epochs)
        self.steps_per_epoch = int(steps_per_epoch)
        self.decay_start_epoch = int(decay_start_epoch)
        self.name = name

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        total = float(self.epochs * self.steps_per_epoch)
        decay_steps = float((self.epochs - self.decay_start_epoch) * self.steps_per_epoch)
        if decay_steps == 0.0:
            return tf.constant(self.initial_learning_rate, tf.float32)
        fraction = tf.clip_by_value((total - step) / decay_steps, 0.0, 1.0)
        return self.initial_learning_rate * fraction

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "decay_start_epoch": self.decay_start_epoch,
            "name": self.name,
        }


def cyclegan_optimizers(
    epochs: int,
    steps_per_epoch: int,
    decay_start_epoch: int | None = None,
    learning_rate: float = 2e-4,
    beta_1: float = 0.5,
    d_learning_rate: float | None = None,
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """The paper's ``(d_optimizer, g_optimizer)``: Adam(2e-4, beta_1 0.5), each with its own
    :class:`ConstantThenLinearDecay` schedule (constant, then linear to 0 from
    `decay_start_epoch`, default ``epochs // 2``). ``d_learning_rate`` (default
    ``learning_rate``) is the discriminators' initial rate."""
    rates = (learning_rate if d_learning_rate is None else d_learning_rate, learning_rate)
    return tuple(
        FusedAdam(
            learning_rate=ConstantThenLinearDecay(rate, epochs, steps_per_epoch,
                                                  decay_start_epoch),
            beta_1=beta_1,
        )
        for rate in rates
    )
