"""``AdversarialModel``: the training mechanics shared by every GAN in the package.

Subclasses (DCGAN, pix2pix, CycleGAN) hold functional networks built by
:mod:`tfgan_apps.networks`, declare them in ``network_names`` and their logged figures in
``tracker_names``, and implement ``train_networks`` (one step's updates) and ``test_networks``
with the helpers below. The contract:

- ``train_step(data)`` (the base's, final): reads the step counter, calls
  ``train_networks(data, step)``, then advances the counter by one;
- ``train_networks(data, step) -> logs``: the subclass's forward passes and losses; every
  update goes through ``optimize(tape, loss, optimizer, variables)``, once per optimizer;
- ``test_networks(data) -> logs``: the subclass's evaluation figures, with no update of any
  kind (``test_step``, the base's, calls it);
- ``step_seed(step, stream)`` / ``replica_normal(...)``: the stateless randomness of a step.

The base owns:

- two optimizers, ``d_optimizer`` and ``g_optimizer`` (Adam 2e-4, beta_1 0.5 by default: the
  setting of all three papers), created in ``compile`` and **built before the first step**, which
  XLA and ``tf.distribute`` both require;
- an explicit ``jit_compile`` choice (Keras's ``"auto"`` silently turns XLA off on CPU and under
  strategies);
- one optimizer seam, :meth:`AdversarialModel.optimize`, between "a replica's mean loss" and
  ``apply_gradients``: gradients are all-reduced by *summation*, so each replica's gradient is
  divided by the number of replicas, and the loss goes through ``optimizer.scale_loss`` so a
  ``keras.optimizers.LossScaleOptimizer`` can wrap either optimizer (mixed precision);
- mixed precision: the networks carry their own dtype policies (built under
  :func:`tfgan_apps.precision.precision_scope`); this container computes nothing itself and is
  float32. When a network computes in float16, ``compile`` wraps each optimizer in a dynamic
  ``LossScaleOptimizer`` (as ``keras.Model.compile(auto_scale_loss=True)`` does for a
  ``mixed_float16`` model);
- a step counter of its own (``step_counter``, int64, checkpointed and saved with the model),
  not an optimizer's ``iterations``, which a ``LossScaleOptimizer`` does not advance on the
  steps it skips;
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

from tfgan_apps.errors import UserError
from tfgan_apps.losses import get_adversarial_loss
from tfgan_apps.optimizers import FusedAdam

#: stateless draws a step may make: draw ``stream`` of step ``t`` is seeded with
#: ``(model seed, t * STREAMS_PER_STEP + stream)``
STREAMS_PER_STEP = 16
#: the step number of ``test_step``'s draws: no train step has it, so evaluation noise never
#: repeats a training draw and is the same at every evaluation
EVALUATION_STEP = -1


def default_gan_optimizer() -> keras.optimizers.Optimizer:
    """Adam(learning_rate=2e-4, beta_1=0.5), the optimizer of DCGAN, pix2pix and CycleGAN."""
    return FusedAdam(learning_rate=2e-4, beta_1=0.5)


def num_replicas() -> int:
    """Replicas in sync under the current ``tf.distribute`` strategy (1 outside any scope)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def _all_layers(model: keras.Model) -> list:
    """Every layer of ``model``, nested models' layers included."""
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers += _all_layers(layer)
    return layers


def _loss_scaled(optimizer: keras.optimizers.Optimizer, name: str
                 ) -> keras.optimizers.Optimizer:
    """``optimizer`` in a dynamic ``LossScaleOptimizer`` (itself when it is one already, e.g.
    restored from a saved compile config)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name=name)


def _reducible_across_workers(logs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Scalar logs as ``[1]`` under ``MultiWorkerMirroredStrategy``: Keras 3 reduces a
    multi-worker step's logs with ``strategy.reduce("MEAN", value, axis=0)``, which fails on
    scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388); with a batch axis it gives the same scalar mean."""
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, [1]) if value.shape.rank == 0 else value
            for name, value in logs.items()}


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
        # The container is float32 whatever the global policy: inputs reach the networks as
        # given, and the networks' layers apply their own (mixed) policies.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.seed = int(seed)
        # Completed train steps; seeds every draw of a step. A model variable (not an
        # optimizer's ``iterations``) so that a LossScaleOptimizer's skipped steps still count;
        # saved by tf.train.Checkpoint(model=...) and in .keras files. Created here, i.e. under
        # the strategy scope the model is built in; "only_first_replica": every replica adds 1
        # in replica context and the variable advances once per global step.
        self.step_counter = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, autocast=False,
            aggregation="only_first_replica", name="step_counter")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracker_names}
        self.loss_name = self.default_loss
        self.adversarial_loss = get_adversarial_loss(self.loss_name)
        self.d_optimizer: keras.optimizers.Optimizer | None = None
        self.g_optimizer: keras.optimizers.Optimizer | None = None
        self.auto_scale_loss = True
        self._adversarial_compile_kwargs: dict[str, Any] = {}

    # ----------------------------------------------------------------------------- compile
    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
        g_optimizer: keras.optimizers.Optimizer | str | dict | None = None,
        *,
        loss: str | None = None,
        jit_compile: bool | None = None,
        steps_per_execution: int = 1,
        run_eagerly: bool = False,
        auto_scale_loss: bool = True,
        **adversarial_kwargs: Any,
    ) -> None:
        """Set the two optimizers, build them, and choose XLA explicitly.

        Args:
            d_optimizer: discriminator optimizer (instance, name or serialized config);
                default Adam(2e-4, beta_1=0.5).
            g_optimizer: generator optimizer; same default.
            loss: adversarial loss pair (``non_saturating``, ``minimax``, ``least_squares``;
                default the model's ``default_loss``, the paper's).
            jit_compile: compile ``train_step`` with XLA. None: when TensorFlow sees a GPU
                (on CPUs oneDNN measured 1.04-1.9x faster than XLA). Must be False for several
                replicas on CPU devices (see :mod:`tfgan_apps.training`).
            steps_per_execution: steps run per ``tf.function`` call.
            run_eagerly: debug mode (disables ``jit_compile``).
            auto_scale_loss: when a network computes in float16 (``mixed_float16``), wrap
                each optimizer that is not one already in a dynamic
                ``keras.optimizers.LossScaleOptimizer`` (initial scale 2**15, doubled after
                2000 finite steps, halved and the step skipped on a non-finite gradient).
            **adversarial_kwargs: the subclass's own compile options (e.g. ``loss``), passed to
                :meth:`configure_losses` and saved with the compile config.
        """
        self.configure_losses(loss=loss or self.default_loss, **adversarial_kwargs)
        # optimizer=None on purpose: a default optimizer would be created and, under a
        # strategy, built over every weight without ever being used.
        super().compile(
            optimizer=None,
            jit_compile=(bool(tf.config.list_logical_devices("GPU")) if jit_compile is None
                         else bool(jit_compile)) and not run_eagerly,
            steps_per_execution=steps_per_execution,
            run_eagerly=run_eagerly,
        )
        self.d_optimizer = keras.optimizers.get(d_optimizer) if d_optimizer else (
            default_gan_optimizer())
        self.g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer else (
            default_gan_optimizer())
        self.auto_scale_loss = bool(auto_scale_loss)
        if self.auto_scale_loss and self.computes_in_float16():
            self.d_optimizer = _loss_scaled(self.d_optimizer, "d_loss_scale_optimizer")
            self.g_optimizer = _loss_scaled(self.g_optimizer, "g_loss_scale_optimizer")
        self._adversarial_compile_kwargs = {"loss": self.loss_name, **adversarial_kwargs}
        self.build_optimizers()

    def computes_in_float16(self) -> bool:
        """Whether a layer of a network computes in float16 (``mixed_float16`` or
        ``float16``), whose gradients then need loss scaling; bfloat16 has float32's range
        and does not."""
        return any(layer.compute_dtype == "float16"
                   for name in self.network_names if getattr(self, name, None) is not None
                   for layer in _all_layers(getattr(self, name)))

    def configure_losses(self, loss: str, **kwargs: Any) -> None:
        """Pick the adversarial loss pair; subclasses with more compile options extend this."""
        if kwargs:
            raise TypeError(f"unexpected compile arguments: {sorted(kwargs)}")
        if self.supported_losses is not None and loss not in self.supported_losses:
            raise UserError(f"{type(self).__name__} loss must be one of "
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
            "auto_scale_loss": self.auto_scale_loss,
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

    def _maybe_symbolic_build(self, iterator: Any = None, data_batch: Any = None) -> None:
        """Keras's pre-``fit``/``evaluate`` build, without drawing a batch when nothing needs
        one.

        Under a strategy, Keras 3's TensorFlow trainer opens an iterator over the data, takes
        its first batch and ``strategy.reduce``s it across replicas, only to learn the input
        shapes for building unbuilt layers, compiled metrics and losses. These models are
        built when constructed and compile neither (their optimizers are built by
        :meth:`compile`), so the batch is never used, and it costs twice: the extra
        iterator advances a seeded shuffle to its next order (a run under a strategy then
        trained on other batches than the same run on one device, which never takes this
        path), and under ``MultiWorkerMirroredStrategy`` the cross-worker reduce fails on
        ``(image, target)`` batches. Anything unbuilt still gets Keras's own build.
        """
        built = all(layer.built for layer in self._flatten_layers())
        compiled_extras = (getattr(self, "_compile_metrics", None) is not None
                           or getattr(self, "_compile_loss", None) is not None)
        if self._distribute_strategy is None or not built or compiled_extras:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
            return
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    # ------------------------------------------------------- the train step and its helpers
    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def update_trackers(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Feed this replica's figures to the trackers; returns what ``fit`` displays."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One train step: :meth:`train_networks` at the current step, then count it.

        Subclasses implement :meth:`train_networks`, not this: the counter is read and advanced
        here only, once per step whatever the model.
        """
        step = tf.convert_to_tensor(self.step_counter)  # read before this step's update
        logs = self.train_networks(data, step)
        self.step_counter.assign_add(1)
        return _reducible_across_workers(logs)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One evaluation step: :meth:`test_networks` (subclasses implement that)."""
        return _reducible_across_workers(self.test_networks(data))

    def test_networks(self, data: Any) -> dict[str, tf.Tensor]:
        """Subclass hook: the evaluation figures of one replica's batch ``data``, without any
        update (returns what ``evaluate`` and ``fit``'s validation display)."""
        raise NotImplementedError(f"{type(self).__name__} must implement test_networks")

    def train_networks(self, data: Any, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """Subclass hook: one step's updates on one replica's batch ``data``.

        Args:
            data: the batch as ``fit`` yields it (one replica's share under a strategy).
            step: int64 scalar, the train steps completed before this one (seed draws with
                :meth:`step_seed` / :meth:`replica_normal`).

        Returns:
            The logs ``fit`` displays (usually :meth:`update_trackers`'s result). Every update
            goes through :meth:`optimize`, once per optimizer.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement train_networks")

    def optimize(
        self,
        tape: tf.GradientTape,
        loss: tf.Tensor,
        optimizer: keras.optimizers.Optimizer,
        variables: Sequence,
    ) -> None:
        """Apply the gradient of one replica's mean ``loss`` (recorded by ``tape``).

        The one place between a loss and ``apply_gradients`` (clipping or accumulation belong
        here too). Gradients are all-reduced by summation, so with N replicas each replica's is
        ``d(loss) / N``, the gradient of the global batch's mean loss once summed; and the loss
        is scaled by ``optimizer.scale_loss`` (the identity for a plain optimizer; the dynamic
        scale of a ``LossScaleOptimizer``). Both factors enter as the output gradient of
        ``loss`` (``d(c * loss) = c * d(loss)``), so the tape only records the loss itself;
        this is what Keras's own ``train_step`` does with ``loss = optimizer.scale_loss(loss)``
        inside its tape. The scaled gradients flow back through the float16 activations
        (where unscaled ones would underflow) to the float32 variables; a
        ``LossScaleOptimizer``'s ``apply_gradients`` then checks that every gradient is
        finite: if so it divides them by the scale and lets the inner optimizer apply them
        (doubling the scale after ``dynamic_growth_steps`` finite steps), else it skips the
        update (weights, slots and ``iterations`` unchanged) and halves the scale.

        Args:
            tape: the tape that recorded ``loss``; used once here.
            loss: float scalar, the mean loss over this replica's batch.
            optimizer: the optimizer of ``variables`` (``d_optimizer`` or ``g_optimizer``).
            variables: the trainable variables it updates.
        """
        upstream = tf.cast(optimizer.scale_loss(tf.ones_like(loss)), loss.dtype)
        replicas = num_replicas()
        if replicas > 1:
            upstream = upstream / tf.cast(replicas, loss.dtype)
        gradients = tape.gradient(loss, variables, output_gradients=upstream)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))

    def loss_scale(self, optimizer: keras.optimizers.Optimizer) -> tf.Tensor:
        """float32 scalar: the factor ``optimizer`` scales losses by (its current dynamic
        scale for a ``LossScaleOptimizer``, else 1), for gradients taken inside a loss (R1's
        input gradient), which underflow in float16 as the loss's own would."""
        return tf.stop_gradient(tf.cast(optimizer.scale_loss(tf.ones((), tf.float32)),
                                        tf.float32))

    def step_seed(self, step: tf.Tensor | int, stream: int) -> tf.Tensor:
        """The int64 ``[2]`` stateless seed of draw ``stream`` at train step ``step``.

        ``(model seed, step * STREAMS_PER_STEP + stream)``: a pure function of the model's seed
        and the step, so a resumed run (or N replicas) makes the draws one unbroken run makes.
        ``stream`` (``0 <= stream < STREAMS_PER_STEP``) tells a step's draws apart.
        """
        if not 0 <= stream < STREAMS_PER_STEP:
            raise ValueError(f"stream must be in [0, {STREAMS_PER_STEP}), got {stream!r}")
        return tf.stack([tf.constant(self.seed, tf.int64),
                         tf.cast(step, tf.int64) * STREAMS_PER_STEP + stream])

    def replica_normal(
        self, local_batch: tf.Tensor, shape: Sequence[int], step: tf.Tensor | int, stream: int
    ) -> tf.Tensor:
        """Standard normal noise ``[local_batch, *shape]`` for this replica.

        Draws the *global* batch's noise from :meth:`step_seed` and returns this
        replica's slice, so the noise of a step does not depend on the number of replicas.
        """
        context = tf.distribute.get_replica_context()
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        replicas = num_replicas()
        noise = tf.random.stateless_normal(
            tf.concat([[local_batch * replicas], tf.constant(list(shape), tf.int32)], 0),
            seed=self.step_seed(step, stream),
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
