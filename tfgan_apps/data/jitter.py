"""The paper's random jitter, shared by the pix2pix and CycleGAN pipelines.

Isola et al. 2017 (pix2pix, 6.2) and Zhu et al. 2017 (CycleGAN, 7.1): "random jitter was applied
by resizing the 256x256 input images to 286x286 and then randomly cropping back to size 256x256",
plus random mirroring. At other sizes S the load size keeps the paper's ratio,
:func:`jitter_load_size` = ``round(S * 286 / 256)``: 72 at 64, 143 at 128, 286 at 256.

The pipelines load at that size, batch, then :func:`jitter_batches` draws one crop offset and
one flip per example with :func:`random_crop_and_flip`. The draws are stateless, from a seed
of ``tf.data.Dataset.random(seed)`` per batch (re-drawn every epoch), so with
``deterministic=True`` a seed gives the same batches on every run. The members of a pix2pix
pair (image and mask, or A and B) share one crop and flip; CycleGAN's unpaired domains each get
their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tfgan_apps.data.checks import check_positive_int

#: load size over crop size of the paper's jitter
JITTER_RATIO = 286 / 256


def jitter_load_size(image_size: int) -> int:
    """Side at which images are loaded before the random ``S x S`` crop.

    Args:
        image_size: S, the training size.

    Returns:
        ``round(S * 286 / 256)`` (Python rounding): 286 for 256, 143 for 128, 72 for 64.
    """
    return int(round(check_positive_int("image_size", image_size) * JITTER_RATIO))


def random_crop_and_flip(
    tensors: Sequence[tf.Tensor], image_size: int, seed: tf.Tensor
) -> tuple[tf.Tensor, ...]:
    """One random ``S x S`` crop and horizontal flip per example, shared by every tensor given.

    Args:
        tensors: one or more batches of the same ``[batch, H, W]`` (images ``[batch, H, W, C]``,
            masks ``[batch, H, W]``; any dtype, known rank), ``H, W >= S``; e.g.
            ``(images, masks)`` or ``(a, b)`` of a pair, or ``(images,)`` alone.
        image_size: S.
        seed: int64 ``[2]`` stateless seed; the crops and flips are a pure function of it and
            of the batch size.

    Returns:
        The tensors cropped to ``[batch, S, S, ...]``, same dtypes, in the same order. Example
        ``b`` of every tensor is cut at the same offset and flipped (or not) together, so pixel
        ``(i, j)`` of each comes from the same source pixel.
    """
    shape = tf.shape(tensors[0])
    batch, height, width = shape[0], shape[1], shape[2]
    row_seed, col_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3))
    top = tf.random.stateless_uniform([batch, 1], row_seed, minval=0,
                                      maxval=height - image_size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([batch, 1], col_seed, minval=0,
                                       maxval=width - image_size + 1, dtype=tf.int32)
    flip = tf.random.stateless_uniform([batch, 1], flip_seed, minval=0, maxval=2,
                                       dtype=tf.int32)
    steps = tf.range(image_size)[None]
    rows, cols = top + steps, left + steps  # [batch, S]
    # A horizontal flip of the crop is the crop read with reversed column indices.
    cols = tf.where(flip == 1, tf.reverse(cols, axis=[1]), cols)

    def crop(x):
        x = tf.gather(tf.gather(x, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        x.set_shape([None, image_size, image_size, *x.shape.as_list()[3:]])
        return x

    return tuple(crop(x) for x in tensors)


def jitter_batches(
    ds: tf.data.Dataset, image_size: int, seed: int | None, *, shared: bool
) -> tf.data.Dataset:
    """Applies :func:`random_crop_and_flip` to every batch of `ds`.

    Args:
        ds: batched dataset whose elements are tensors ``[batch, L, L, ...]`` or tuples of
            them, ``L >= S`` (typically ``L = jitter_load_size(S)``).
        image_size: S.
        seed: seed of ``tf.data.Dataset.random`` (None: different every run).
        shared: True gives all members of an element the same crop and flip (a pix2pix pair);
            False gives member ``i`` its own draw (CycleGAN's unpaired domains).

    Returns:
        The dataset of the same elements cropped to ``[batch, S, S, ...]``.
    """
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def jitter(element, draw):
        if not isinstance(element, tuple):
            return random_crop_and_flip((element,), image_size, tf.stack([draw, 0]))[0]
        if shared:
            return random_crop_and_flip(element, image_size, tf.stack([draw, 0]))
        return tuple(random_crop_and_flip((x,), image_size, tf.stack([draw, i]))[0]
                     for i, x in enumerate(element))

    return tf.data.Dataset.zip((ds, draws)).map(jitter, num_parallel_calls=tf.data.AUTOTUNE)
