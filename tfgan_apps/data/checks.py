"""Checks of the values a user passes to the data loaders (a leaf: no TensorFlow).

Every check raises :class:`~tfgan_apps.errors.UserError` (a ``ValueError``) with a message that
names the Python argument and the bad value, never a command-line flag: where the error carries
the argument as its ``option``, the CLI puts its flag name there instead. Internal invariants
that only a bug can break raise plain exceptions elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfgan_apps.errors import UserError


def check_positive_int(name: str, value: Any) -> int:
    """Returns `value` if it is a positive ``int`` (``bool`` is refused).

    Args:
        name: the argument's name, for the message (e.g. ``"image_size"``).
        value: what the caller passed.

    Raises:
        UserError: `value` is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"must be a positive integer, got {value!r}", option=name)
    return value


def check_channels(channels: Any) -> int:
    """Returns `channels` if it is 1 (grayscale) or 3 (RGB).

    Raises:
        UserError: any other value (including ``True``).
    """
    if isinstance(channels, bool) or channels not in (1, 3):
        raise UserError(f"must be 1 (grayscale) or 3 (RGB), got {channels!r}", option="channels")
    return channels


def check_seed(seed: int | None, *, deterministic: bool, purpose: str) -> None:
    """Refuses ``deterministic=True`` with ``seed=None``: nothing would be reproducible.

    Args:
        seed: the caller's seed.
        deterministic: whether the caller asked for the same batches on every run.
        purpose: what the seed drives, for the message (e.g. ``"the shuffle"``).

    Raises:
        UserError: ``deterministic`` and ``seed is None``.
    """
    if deterministic and seed is None:
        raise UserError(f"deterministic=True needs an integer seed for {purpose}, got seed=None")


def check_batch_fits(
    count: int,
    batch_size: int,
    *,
    drop_remainder: bool,
    where: str = "the dataset",
    items: str = "examples",
) -> None:
    """Refuses a `batch_size` larger than the `count` known examples with `drop_remainder`
    (there would be no batch at all: an epoch of zero steps).

    Args:
        count: examples known to be there (negative: unknown, not checked).
        batch_size: the requested batch size (already checked positive).
        drop_remainder: whether partial batches are dropped.
        where, items: words of the message, e.g. ``"'photos/'"`` and ``"readable images"``.

    Raises:
        UserError: ``drop_remainder`` and ``0 <= count < batch_size``.
    """
    if drop_remainder and 0 <= count < batch_size:
        raise UserError(
            f"{where} has {count} {items}, fewer than batch_size={batch_size}, so with "
            f"drop_remainder=True there would be no batch; use batch_size <= {count} or "
            "drop_remainder=False"
        )


def name_list(names: Sequence[str], limit: int = 5) -> str:
    """``"a, b, c, ... (N more)"``: the first `limit` names for an error message."""
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
