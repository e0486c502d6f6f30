"""The batch tail of pix2pix pairs, shared by the TFDS source and your own folders.

:mod:`tfgan_apps.data.paired` (TFDS segmentation, the dispatch of ``train pix2pix``) and
:mod:`tfgan_apps.data.paired_folders` (image/mask folders, aligned A|B images) both build
unbatched uint8 pairs with :func:`resize_pair` (or two
:func:`~tfgan_apps.data.pipelines.resize_and_center_crop` calls)
and hand them to :func:`finish_pairs`: cache, shuffle, batch, the paper's jitter with one crop
and flip per pair (:mod:`tfgan_apps.data.jitter`), conversion to [-1, 1], prefetch.
"""

from __future__ import annotations

import tensorflow as tf

from tfgan_apps.data.checks import check_seed
from tfgan_apps.data.convert import to_signed_unit
from tfgan_apps.data.pipelines import finalize, resize_and_center_crop


def resize_pair(image: tf.Tensor, mask: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Image ``[H, W, 3]`` and mask ``[H, W]`` -> ``[size, size, 3]``, ``[size, size]`` with one
    geometry (short side to `size`, centre crop): bilinear for the image, nearest for the mask
    (no class id is invented). Dtypes are kept (uint8 image, integer mask)."""
    image = resize_and_center_crop(image, size)
    mask = resize_and_center_crop(mask[..., None], size, method="nearest")[..., 0]
    return image, mask


def finish_pairs(
    ds: tf.data.Dataset,
    *,
    image_size: int,
    augment: bool,
    target_is_mask: bool,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    deterministic: bool,
    drop_remainder: bool,
    cache: bool | str,
) -> tf.data.Dataset:
    """The pix2pix tail: :func:`finalize` for ``(input, target)`` pairs.

    Args:
        ds: unbatched ``(uint8 input [L, L, 3], target)`` elements, the target a uint8/int32
            mask ``[L, L]`` or a uint8 image ``[L, L, 3]``; ``L = S``, or
            :func:`~tfgan_apps.data.jitter.jitter_load_size` of S with `augment`.
        image_size: S.
        augment: the shared random crop to S and flip of each pair.
        target_is_mask: the targets are class ids (kept as ids) rather than pixels.
        batch_size, shuffle, seed, deterministic, drop_remainder, cache: see :func:`finalize`;
            without `shuffle` the batches always come in order (fixed validation examples).

    Returns:
        Dataset of ``(float32 [batch, S, S, 3] in [-1, 1], int32 [batch, S, S] class ids)`` or,
        for images, of two float32 ``[batch, S, S, 3]`` in [-1, 1].

    Raises:
        UserError: `augment` and `deterministic` without a `seed`, or as :func:`finalize`.
    """
    check_seed(seed, deterministic=augment and deterministic, purpose="the augmentation")

    def convert(inputs, targets):
        targets = tf.cast(targets, tf.int32) if target_is_mask else to_signed_unit(targets)
        return to_signed_unit(inputs), targets

    return finalize(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                    deterministic=deterministic or not shuffle, drop_remainder=drop_remainder,
                    cache=cache, crop_size=image_size if augment else None,
                    batch_map_fn=convert)
