"""``AdversarialModel``: the training mechanics shared by every GAN in the package.

Subclasses (DCGAN, pix2pix, CycleGAN) hold functional networks built by
:mod:`tfgan_apps.networks`, declare them in ``network_names`` and their logged figures in
``tracker_names``, and implement ``train_step`` with the helpers below. The base owns:

- two optimizers, ``d_optimizer`` and ``g_optimizer`` (Adam 2e-4, beta_1 0.5 by default: the
  setting of all three papers), created in ``compile`` and **built before the first step**, which
  XLA and ``tf.distribute`` both require;
- an explicit ``jit_compile`` choice (Keras's ``"auto"`` silently turns XLA off on CPU and under
  strategies);
- replica-aware loss scaling: each replica's loss is the mean over its own batch, gradients are
  all-reduced by *summation*, so losses are divided by the number of replicas before the
  gradient (and passed through ``optimizer.scale_loss`` so a ``LossScaleOptimizer`` can be
  slotted in for mixed precision);
- noise that depends only on ``(seed, step)`` and is sliced per replica from the global batch's
  noise: N replicas draw exactly the noise one device would, and a resumed run draws the noise
  the interrupted run would have drawn;
- ``get_config``/``from_config`` that serialize the nested networks, and compile-config
  round trips so ``keras.models.load_model`` restores optimizers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.losses import get_adversarial_loss


def default_gan_optimizer() -> keras.optimizers.Optimizer:
    """Adam(learning_rate=2e-4, beta_1=0.5), the optimizer of DCGAN, pix2pix and CycleGAN."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


def num_replicas() -> int:
    """Replicas in sync under the current ``tf.distribute`` strategy (1 outside any scope)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


class AdversarialModel(keras.Model):
    """Base class of the GAN models; see the module docstring for what it owns.

    Args:
        seed: integer seed of every random draw made inside ``train_step`` (noise, pool
            choices); with the step counter it makes training noise reproducible and resumable.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``, ...).
    """

    #: attribute names of the functional networks this model holds (serialized in get_config)
    network_names: tuple[str, ...] = ()
    #: names of the figures ``train_step`` reports (one ``keras.metrics.Mean`` each)
    tracker_names: tuple[str, ...] = ()
    #: adversarial loss used until ``compile(loss=...)`` says otherwise (the paper's)
    default_loss: str = "non_saturating"
    #: adversarial losses this model accepts (None: every pair in ``tfgan_apps.losses``)
    supported_losses: tuple[str, ...] | None = None

    def __init__(self, *, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracker_names}
        self.loss_name = self.default_loss
        self.adversarial_loss = get_adversarial_loss(self.loss_name)
        self.d_optimizer: keras.optimizers.Optimizer | None = None
        self.g_optimizer: keras.optimizers.Optimizer | None = None
        self._adversarial_compile_kwargs: dict[str, Any] = {}

    # ----------------------------------------------------------------------------- compile
    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
        g_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
        *,
        loss: str | None = None,
        jit_compile: bool = True,
        steps_per_execution: int = 1,
        run_eagerly: bool = False,
        **adversarial_kwargs: Any,
    ) -> None:
        """Set the two optimizers, build them, and choose XLA explicitly.

        Args:
            d_optimizer: discriminator optimizer (instance, name or serialized config);
                default Adam(2e-4, beta_1=0.5).
            g_optimizer: generator optimizer; same default.
            loss: adversarial loss pair (``non_saturating``, ``minimax``, ``least_squares``;
                default the model's ``default_loss``, the paper's).
            jit_compile: compile ``train_step`` with XLA. Must be False for several replicas on
                CPU devices (see :mod:`tfgan_apps.training`).
            steps_per_execution: steps run per ``tf.function`` call.
            run_eagerly: debug mode (disables ``jit_compile``).
            **adversarial_kwargs: the subclass's own compile options (e.g. ``loss``), passed to
                :meth:`configure_losses` and saved with the compile config.
        """
        self.configure_losses(loss=loss or self.default_loss, **adversarial_kwargs)
        # optimizer=None on purpose: a default optimizer would be created and, under a
        # strategy, built over every weight without ever being used.
        super().compile(
            optimizer=None,
            jit_compile=bool(jit_compile) and not run_eagerly,
            steps_per_execution=steps_per_execution,
            run_eagerly=run_eagerly,
        )
        self.d_optimizer = keras.optimizers.get(d_optimizer) if d_optimizer else (
            default_gan_optimizer())
        self.g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer else (
            default_gan_optimizer())
        self._adversarial_compile_kwargs = {"loss": self.loss_name, **adversarial_kwargs}
        self.build_optimizers()

    def configure_losses(self, loss: str, **kwargs: Any) -> None:
        """Pick the adversarial loss pair; subclasses with more compile options extend this."""
        if kwargs:
            raise TypeError(f"unexpected compile arguments: {sorted(kwargs)}")
        if self.supported_losses is not None and loss not in self.supported_losses:
            raise ValueError(f"{type(self).__name__} loss must be one of "
                             f"{sorted(self.supported_losses)}, got {loss!r}")
        self.adversarial_loss = get_adversarial_loss(loss)
        self.loss_name = loss

    def discriminator_variables(self) -> list:
        """Variables updated by ``d_optimizer``: ``self.discriminator``'s by default."""
        return self.discriminator.trainable_variables

    def generator_variables(self) -> list:
        """Variables updated by ``g_optimizer``: ``self.generator``'s by default."""
        return self.generator.trainable_variables

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now, inside the current strategy scope."""
        self.d_optimizer.build(self.discriminator_variables())
        self.g_optimizer.build(self.generator_variables())

    def get_compile_config(self) -> dict[str, Any]:
        if self.d_optimizer is None:
            return {}
        return {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "jit_compile": bool(self.jit_compile),
            **self._adversarial_compile_kwargs,
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        config = dict(config)
        self.compile(
            d_optimizer=keras.optimizers.deserialize(config.pop("d_optimizer")),
            g_optimizer=keras.optimizers.deserialize(config.pop("g_optimizer")),
            **config,
        )

    def fit(self, x: Any = None, *args: Any, **kwargs: Any) -> keras.callbacks.History:
        """``keras.Model.fit``; a ``tf.data.Dataset`` is taken in its own order by default.

        Keras ignores ``shuffle`` for datasets but warns when it is left at its default (True)
        on every ``fit``; this package's pipelines shuffle with their own seed instead.
        """
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    # ------------------------------------------------------------------- train_step helpers
    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def update_trackers(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Feed this replica's figures to the trackers; returns what ``fit`` displays."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def apply_loss(
        self,
        tape: tf.GradientTape,
        scaled_loss: tf.Tensor,
        optimizer: keras.optimizers.Optimizer,
        variables: Sequence,
    ) -> None:
        """Differentiate a loss made by :meth:`scale_loss` and apply the update."""
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))

    @staticmethod
    def scale_loss(loss: tf.Tensor, optimizer: keras.optimizers.Optimizer) -> tf.Tensor:
        """Scale one replica's mean loss for summed all-reduce (and loss scaling).

        Call inside the tape: ``d(loss / N)`` summed over N replicas equals the gradient of the
        global batch's mean loss.
        """
        replicas = num_replicas()
        if replicas > 1:
            loss = loss / tf.cast(replicas, loss.dtype)
        return optimizer.scale_loss(loss)

    def step_counter(self) -> tf.Tensor:
        """The number of completed train steps (int64), read from ``d_optimizer``."""
        return tf.cast(self.d_optimizer.iterations, tf.int64)

    def replica_normal(
        self, local_batch: tf.Tensor, shape: Sequence[int], step: tf.Tensor, stream: int
    ) -> tf.Tensor:
        """Standard normal noise ``[local_batch, *shape]`` for this replica.

        Draws the *global* batch's noise from ``(seed, step, stream)`` and returns this
        replica's slice, so the noise of a step does not depend on the number of replicas.
        """
        context = tf.distribute.get_replica_context()
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        replicas = num_replicas()
        seed = tf.stack([tf.constant(self.seed, tf.int64), step * 16 + stream])
        noise = tf.random.stateless_normal(
            tf.concat([[local_batch * replicas], tf.constant(list(shape), tf.int32)], 0),
            seed=seed,
        )
        start = tf.cast(replica_id, tf.int32) * local_batch
        return noise[start:start + local_batch]

    # -------------------------------------------------------------------- serialization
    def hyperparameters(self) -> dict[str, Any]:
        """Subclass hook: the JSON-serializable constructor arguments besides the networks."""
        return {}

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "seed": self.seed}
        for name in self.network_names:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        config.update(self.hyperparameters())
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AdversarialModel:
        config = dict(config)
        for name in cls.network_names:
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
