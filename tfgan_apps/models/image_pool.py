"""``ImagePool``: the history of generated images CycleGAN's discriminators are shown
(Shrivastava et al. 2017), kept as TensorFlow state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.models.base import num_replicas


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
