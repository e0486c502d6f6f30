"""CycleGAN: unpaired image-to-image translation (Zhu et al. 2017, https://arxiv.org/abs/1703.10593).

Two generators ``g_ab: A -> B`` and ``g_ba: B -> A``, two discriminators ``d_a`` (real A vs
translated B->A) and ``d_b`` (real B vs translated A->B), trained with

- an adversarial loss per direction: least squares (LSGAN) by default, as in the paper, or
  non-saturating (logistic);
- a cycle-consistency loss ``lambda_cycle * (|g_ba(g_ab(a)) - a|_1 + |g_ab(g_ba(b)) - b|_1)``,
  ``lambda_cycle = 10``;
- an identity loss ``lambda_identity * lambda_cycle * (|g_ab(b) - b|_1 + |g_ba(a) - a|_1)``,
  ``lambda_identity = 0.5`` (0 disables it);
- discriminators trained on real images vs **image-pool** fakes (:class:`ImagePool`);
- Adam(2e-4, beta_1 0.5), learning rate constant for the first half of the epochs then
  decayed linearly to 0 (:class:`ConstantThenLinearDecay`, :func:`cyclegan_optimizers`).

Loss scales follow the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix): its
LSGAN generator term is ``MSE(D(G(x)), 1)`` without our :mod:`tfgan_apps.losses` factor 0.5
(so it is multiplied by 2 here), and its discriminator loss is half the sum of the real and
fake terms (least squares already includes that 0.5; the logistic loss is halved here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.losses import l1_loss
from tfgan_apps.models.base import AdversarialModel, num_replicas
from tfgan_apps.networks import (
    build_patch_discriminator,
    build_resnet_generator,
    build_unet_generator,
)

GENERATORS = ("resnet", "unet")

#: (generator, discriminator) factors bringing :mod:`tfgan_apps.losses` to the reference's scale
_REFERENCE_LOSS_SCALES = {"least_squares": (2.0, 1.0), "non_saturating": (1.0, 0.5)}

# Stream ids of the stateless random draws of one train step (see ``AdversarialModel.step_seed``).
_POOL_A_STREAM, _POOL_B_STREAM = 2, 3


def _domains(data: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """``(a, b)`` of an unpaired batch, given as a pair or as ``{"a": ..., "b": ...}``."""
    if isinstance(data, dict):
        return data["a"], data["b"]
    return data[0], data[1]


# ----------------------------------------------------------------------------------- image pool


@keras.saving.register_keras_serializable(package="tfgan_apps")
class ImagePool(keras.layers.Layer):
    """History of generated images shown to a discriminator (Shrivastava et al. 2017; CycleGAN 4).

    The paper's buffer, in TensorFlow state: ``images`` (``float32[pool_size, H, W, C]``) and
    ``count`` (how many slots are filled) are non-trainable weights, so the pool works inside a
    compiled (XLA) ``train_step``, is saved by ``tf.train.Checkpoint(model=...)``,
    ``model.save_weights``, Keras's ``BackupAndRestore`` and ``.keras`` files, and a resumed run
    continues with the pool it had.

    Each image of a batch, in batch order (exactly the reference's sequential loop):

    - while the pool is not full, it is stored in the next free slot and returned itself;
    - once full, with probability 1/2 a uniformly chosen slot's image is returned and replaced by
      the new image, else the new image is returned and the pool is unchanged. A slot written
      earlier in the same batch returns that newer image.

    The random choices are stateless, drawn from a ``[2]`` int64 ``seed`` that the caller
    derives from ``(model seed, step)``: the same run makes the same choices after a resume.

    Distribution strategies: the pool is **one global pool**, identical on every replica. Under
    ``N`` replicas each replica gathers the global batch of fakes (an all-reduce of zero-padded
    slices), applies the same update with the same random draws, and returns its own slice, so
    training with N replicas sees exactly the pool of one device with the global batch; the
    variables use ``aggregation="only_first_replica"`` (every replica computes the same value)
    and so can be assigned in replica context. The cost is one all-reduce of the fakes per
    step. Replicas must have equal batches (``drop_remainder=True``, as XLA needs anyway).

    Args:
        pool_size: number of stored images (50 in the paper); 0 disables the pool (the call
            returns its input).
        image_shape: ``(H, W, C)`` of the stored images (the training resolution).
        **kwargs: ``keras.layers.Layer`` arguments (``name``).

    Call:
        ``pool(images, seed)``: ``images`` float ``[batch, H, W, C]`` (this replica's fakes),
        ``seed`` int ``[2]`` -> float32 ``[batch, H, W, C]`` to feed the discriminator.
    """

    #: probability that a full pool returns a stored image (the reference's ``p > 0.5``)
    return_probability = 0.5

    def __init__(self, pool_size: int = 50, image_shape: Sequence[int] = (256, 256, 3),
                 **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise UserError(f"pool_size must be a non-negative integer, got {pool_size!r}")
        self.pool_size = pool_size
        self.image_shape = tuple(int(d) for d in image_shape)
        if len(self.image_shape) != 3 or min(self.image_shape) <= 0:
            raise UserError(f"image_shape must be (H, W, C) > 0, got {image_shape!r}")
        if pool_size:
            self.images = self.add_weight(
                shape=(pool_size, *self.image_shape), initializer="zeros", dtype="float32",
                trainable=False, autocast=False, aggregation="only_first_replica",
                name="images")
            self.count = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False, autocast=False,
                aggregation="only_first_replica", name="count")
        self.built = True

    def call(self, images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        if not self.pool_size:
            return images
        context = tf.distribute.get_replica_context()
        replicas = num_replicas()
        local_batch = tf.shape(images)[0]
        start = 0
        if context is not None and replicas > 1:
            # The global batch, replica-major, on every replica. Gathered as a sum of
            # zero-padded slices: exact, and it uses the all-reduce the gradients use anyway
            # (``all_gather``'s collective ops clash with other strategies' in one process).
            start = tf.cast(context.replica_id_in_sync_group, tf.int32) * local_batch
            after = (replicas - 1) * local_batch - start
            padded = tf.pad(images, [[start, after], [0, 0], [0, 0], [0, 0]])
            images = context.all_reduce(tf.distribute.ReduceOp.SUM, padded)
        returned, new_pool, new_count = self.query(images, seed)
        self.images.assign(new_pool)
        self.count.assign(new_count)
        if context is not None and replicas > 1:
            returned = returned[start:start + local_batch]
        return returned

    def query(self, images: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor,
                                                                  tf.Tensor]:
        """The pure update: ``(returned images, new pool images, new count)``.

        Vectorized form of the reference's loop over the batch: image ``i`` writes slot
        ``w_i`` (its fill slot, its swap slot, or none); a swap returns the image last written
        to its slot by an earlier image of the batch, else the slot's stored image; each slot
        ends up holding the last image written to it.
        """
        pool = tf.convert_to_tensor(self.images)
        count = tf.convert_to_tensor(self.count)
        batch = tf.shape(images)[0]
        order = tf.range(batch)
        draws = tf.random.stateless_uniform(tf.stack([batch, 2]), seed=seed)
        fills = count + order < self.pool_size
        swaps = tf.logical_and(tf.logical_not(fills), draws[:, 0] < self.return_probability)
        chosen = tf.minimum(tf.cast(draws[:, 1] * self.pool_size, tf.int32), self.pool_size - 1)
        written = tf.where(fills, count + order, tf.where(swaps, chosen, -1))

        # earlier[i, j]: image j < i wrote the slot image i reads.
        earlier = tf.logical_and(written[None, :] == chosen[:, None],
                                 order[None, :] < order[:, None])
        last_earlier = tf.reduce_max(tf.where(earlier, order[None, :], -1), axis=1)
        stored = tf.where((last_earlier >= 0)[:, None, None, None],
                          tf.gather(images, tf.maximum(last_earlier, 0)),
                          tf.gather(pool, chosen))
        returned = tf.where(swaps[:, None, None, None], stored, images)

        slots = tf.range(self.pool_size)
        writers = tf.where(written[None, :] == slots[:, None], order[None, :], -1)  # [P, batch]
        last_writer = tf.reduce_max(writers, axis=1)
        new_pool = tf.where((last_writer >= 0)[:, None, None, None],
                            tf.gather(images, tf.maximum(last_writer, 0)), pool)
        new_count = tf.minimum(count + batch, self.pool_size)
        return returned, new_pool, new_count

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size,
                "image_shape": list(self.image_shape)}


# --------------------------------------------------------------------------- learning rate


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
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """The paper's ``(d_optimizer, g_optimizer)``: Adam(2e-4, beta_1 0.5), each with its own
    :class:`ConstantThenLinearDecay` schedule (constant, then linear to 0 from
    `decay_start_epoch`, default ``epochs // 2``)."""
    return tuple(
        keras.optimizers.Adam(
            learning_rate=ConstantThenLinearDecay(learning_rate, epochs, steps_per_epoch,
                                                  decay_start_epoch),
            beta_1=beta_1,
        )
        for _ in range(2)
    )


# ----------------------------------------------------------------------------------- the model


@keras.saving.register_keras_serializable(package="tfgan_apps")
class CycleGAN(AdversarialModel):
    """CycleGAN, trained with ``model.fit(dataset)`` on unpaired ``(a, b)`` batches.

    Each ``train_step`` (the reference's order) updates both generators jointly with
    ``g_optimizer`` on ``g_ab_loss + g_ba_loss + cycle_loss + identity_loss``, then both
    discriminators with ``d_optimizer`` on ``d_a_loss + d_b_loss``, where each discriminator
    sees real images against fakes drawn from its :class:`ImagePool`. ``fit`` reports those
    six figures: ``g_ab_loss`` (adversarial loss of A->B, judged by ``d_b``), ``g_ba_loss``,
    ``d_a_loss``, ``d_b_loss``, and the weighted ``cycle_loss`` and ``identity_loss``.
    ``evaluate`` (and ``fit(validation_data=...)``) reports the same six figures in inference
    mode, the discriminators judging the current fakes; it updates nothing and leaves the pools
    alone.

    Args:
        g_ab, g_ba: generators ``[batch, H, W, C]`` in [-1, 1] -> same; ResNet generators
            (:func:`tfgan_apps.networks.build_resnet_generator`, any H, W multiple of 4) are
            built when omitted.
        d_a, d_b: discriminators ``[batch, S, S, C]`` -> ``[batch, P, P, 1]`` patch scores;
            70x70 PatchGANs with instance norm are built when omitted.
        image_size: S, the training resolution (pool shape; network size when built here).
        channels: C, 1 or 3.
        generator: ``"resnet"`` (paper) or ``"unet"`` (pix2pix's U-Net with instance norm and
            no dropout, as the reference's ``--netG unet_256``; fixed size, power of two).
        base_filters: ``ngf``, filters of the generators' first layer (64 in the paper).
        discriminator_filters: ``ndf`` (64 in the paper).
        discriminator_layers: stride-2 layers of the PatchGANs (3: 70x70 patches; 2 for
            images smaller than 32 px).
        num_residual_blocks: ResNet blocks (default 9 at >= 256 px, else 6).
        upsampling: ResNet generator upsampling, ``"transpose"`` (paper) or ``"upsample"``.
        lambda_cycle: weight of the cycle-consistency loss (10).
        lambda_identity: identity-loss weight as a fraction of `lambda_cycle` (0.5; 0 disables).
        pool_size: images per :class:`ImagePool` (50; 0 feeds the newest fakes directly).
        seed: seed of the pools' random choices (with the step counter).

    Example:
        >>> gan = CycleGAN(image_size=64, base_filters=32)
        >>> gan.compile(*cyclegan_optimizers(epochs=20, steps_per_epoch=500))  # LSGAN, XLA
        >>> gan.fit(unpaired_ds, epochs=20)  # (a, b) float32 [batch, 64, 64, 3] in [-1, 1]
        >>> zebras = gan.translate_a2b(horses)  # any [batch, H, W, 3], H, W multiples of 4
    """

    network_names = ("g_ab", "g_ba", "d_a", "d_b")
    default_loss = "least_squares"  # LSGAN, the paper's
    supported_losses = tuple(_REFERENCE_LOSS_SCALES)
    tracker_names = ("g_ab_loss", "g_ba_loss", "d_a_loss", "d_b_loss", "cycle_loss",
                     "identity_loss")

    def __init__(
        self,
        g_ab: keras.Model | None = None,
        g_ba: keras.Model | None = None,
        d_a: keras.Model | None = None,
        d_b: keras.Model | None = None,
        *,
        image_size: int = 256,
        channels: int = 3,
        generator: str = "resnet",
        base_filters: int = 64,
        discriminator_filters: int = 64,
        discriminator_layers: int = 3,
        num_residual_blocks: int | None = None,
        upsampling: str = "transpose",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        seed: int = 0,
        name: str = "cyclegan",
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, name=name, **kwargs)
        if generator not in GENERATORS:
            raise UserError(f"generator must be one of {GENERATORS}, got {generator!r}")
        if lambda_cycle < 0 or lambda_identity < 0:
            raise UserError(
                f"lambda_cycle and lambda_identity must be >= 0, got {lambda_cycle}, "
                f"{lambda_identity}")

        def build_generator(name: str) -> keras.Model:
            if generator == "unet":
                return build_unet_generator(image_size, channels, channels, base_filters,
                                            norm="instance", dropout=0.0, name=name)
            return build_resnet_generator(image_size, channels, base_filters,
                                          num_residual_blocks, upsampling=upsampling, name=name)

        def build_discriminator(name: str) -> keras.Model:
            return build_patch_discriminator(image_size, channels, None, discriminator_filters,
                                             n_layers=discriminator_layers, norm="instance",
                                             name=name)

        self.g_ab = g_ab or build_generator("g_ab")
        self.g_ba = g_ba or build_generator("g_ba")
        self.d_a = d_a or build_discriminator("d_a")
        self.d_b = d_b or build_discriminator("d_b")
        self.image_shape = self._training_shape(image_size, channels)
        self.lambda_cycle = float(lambda_cycle)
        self.lambda_identity = float(lambda_identity)
        self.pool_a = ImagePool(pool_size, self.image_shape, name="pool_a")
        self.pool_b = ImagePool(pool_size, self.image_shape, name="pool_b")
        self.built = True

    def _training_shape(self, image_size: int, channels: int) -> tuple[int, int, int]:
        """``(S, S, C)`` read from the discriminators (fixed shape), checked against the rest."""
        shape = tuple(self.d_a.input_shape[1:])
        if None in shape:
            shape = (image_size, image_size, channels)
        if tuple(self.d_b.input_shape[1:]) != tuple(self.d_a.input_shape[1:]):
            raise ValueError(f"d_a takes {self.d_a.input_shape[1:]} but d_b "
                             f"{self.d_b.input_shape[1:]}: they must take the same images")
        for g in (self.g_ab, self.g_ba):
            g_shapes = tuple(g.input_shape[1:]) + tuple(g.output_shape[1:])
            compatible = all(d is None or d == s
                             for d, s in zip(g_shapes, shape + shape, strict=True))
            if not compatible:
                raise ValueError(
                    f"generator {g.name} maps {g.input_shape[1:]} -> {g.output_shape[1:]} but "
                    f"the discriminators take {shape}: all four networks must work at the same "
                    "image size")
        return tuple(int(d) for d in shape)

    # ---------------------------------------------------------------------------- compile
    def discriminator_variables(self) -> list:
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def generator_variables(self) -> list:
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    # ---------------------------------------------------------------------------- inference
    def call(self, images: tf.Tensor, direction: str = "a2b", training: bool = False
             ) -> tf.Tensor:
        """Translate ``float32[batch, H, W, C]`` in [-1, 1] from A to B (``direction="a2b"``)
        or from B to A (``"b2a"``); returns the same shape in [-1, 1]. For the ResNet
        generator H and W may be any multiples of 4 (see :mod:`tfgan_apps.inference` for any
        size and for tiling)."""
        if direction == "a2b":
            return self.g_ab(images, training=training)
        if direction == "b2a":
            return self.g_ba(images, training=training)
        raise UserError(f"direction must be 'a2b' or 'b2a', got {direction!r}")

    def translate_a2b(self, images: Any) -> tf.Tensor:
        """A -> B: ``float32[batch, H, W, C]`` in [-1, 1] -> same shape in [-1, 1]."""
        return self(tf.convert_to_tensor(images, tf.float32), direction="a2b")

    def translate_b2a(self, images: Any) -> tf.Tensor:
        """B -> A: ``float32[batch, H, W, C]`` in [-1, 1] -> same shape in [-1, 1]."""
        return self(tf.convert_to_tensor(images, tf.float32), direction="b2a")

    # -------------------------------------------------------------------------- train_step
    def train_networks(self, data: Any, step: tf.Tensor) -> dict[str, tf.Tensor]:
        real_a, real_b = _domains(data)
        with tf.GradientTape() as tape:
            fake_a, fake_b, g_losses = self._generator_losses(real_a, real_b, training=True)
            g_loss = (g_losses["g_ab_loss"] + g_losses["g_ba_loss"] + g_losses["cycle_loss"]
                      + g_losses["identity_loss"])
        self.optimize(tape, g_loss, self.g_optimizer, self.generator_variables())

        pooled_a = self.pool_a(tf.stop_gradient(fake_a), self.step_seed(step, _POOL_A_STREAM))
        pooled_b = self.pool_b(tf.stop_gradient(fake_b), self.step_seed(step, _POOL_B_STREAM))
        with tf.GradientTape() as tape:
            d_losses = self._discriminator_losses(real_a, real_b, pooled_a, pooled_b,
                                                  training=True)
            d_loss = d_losses["d_a_loss"] + d_losses["d_b_loss"]
        self.optimize(tape, d_loss, self.d_optimizer, self.discriminator_variables())
        return self.update_trackers({**g_losses, **d_losses})

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """Evaluation: the six training figures in inference mode, the discriminators judging
        the current fakes (not the pools'); no update, no pool write."""
        real_a, real_b = _domains(data)
        fake_a, fake_b, g_losses = self._generator_losses(real_a, real_b, training=False)
        d_losses = self._discriminator_losses(real_a, real_b, fake_a, fake_b, training=False)
        return self.update_trackers({**g_losses, **d_losses})

    def _generator_losses(self, real_a: tf.Tensor, real_b: tf.Tensor, training: bool
                          ) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """``(fake_a, fake_b, {g_ab_loss, g_ba_loss, cycle_loss, identity_loss})``, the terms
        of the generators' objective at the reference's scale (their sum is G's loss)."""
        g_scale, _ = _REFERENCE_LOSS_SCALES[self.loss_name]
        adversarial = self.adversarial_loss
        fake_b = self.g_ab(real_a, training=training)
        fake_a = self.g_ba(real_b, training=training)
        g_ab_loss = g_scale * adversarial.generator(self.d_b(fake_b, training=training))
        g_ba_loss = g_scale * adversarial.generator(self.d_a(fake_a, training=training))
        cycle_loss = self.lambda_cycle * (
            l1_loss(real_a, self.g_ba(fake_b, training=training))
            + l1_loss(real_b, self.g_ab(fake_a, training=training)))
        if self.lambda_identity > 0:
            identity_loss = self.lambda_cycle * self.lambda_identity * (
                l1_loss(real_b, self.g_ab(real_b, training=training))
                + l1_loss(real_a, self.g_ba(real_a, training=training)))
        else:
            identity_loss = tf.zeros((), tf.float32)
        return fake_a, fake_b, {"g_ab_loss": g_ab_loss, "g_ba_loss": g_ba_loss,
                                "cycle_loss": cycle_loss, "identity_loss": identity_loss}

    def _discriminator_losses(self, real_a: tf.Tensor, real_b: tf.Tensor, fake_a: tf.Tensor,
                              fake_b: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """``{d_a_loss, d_b_loss}``: each discriminator, real images against ``fake_*``."""
        _, d_scale = _REFERENCE_LOSS_SCALES[self.loss_name]
        adversarial = self.adversarial_loss
        return {
            "d_a_loss": d_scale * adversarial.discriminator(
                self.d_a(real_a, training=training), self.d_a(fake_a, training=training)),
            "d_b_loss": d_scale * adversarial.discriminator(
                self.d_b(real_b, training=training), self.d_b(fake_b, training=training)),
        }

    # ------------------------------------------------------------------------ serialization
    def hyperparameters(self) -> dict[str, Any]:
        return {
            "image_size": self.image_shape[0],
            "channels": self.image_shape[2],
            "lambda_cycle": self.lambda_cycle,
            "lambda_identity": self.lambda_identity,
            "pool_size": self.pool_a.pool_size,
        }
