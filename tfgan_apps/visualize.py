"""Pictures: image grids, mask palettes and overlays, loss curves (numpy + matplotlib only).

All functions take numpy arrays (or anything ``np.asarray`` accepts, e.g. eager tensors) and
write PNG files atomically (temporary file, then rename) so that a reader never sees half an
image. Float images in [-1, 1] become uint8 through the package's one conversion,
:func:`tfgan_apps.data.convert.from_signed_unit_numpy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.image
import numpy as np

# Figures are drawn with the object-oriented API (no pyplot), so writing PNGs works without a
# display and never changes the backend a notebook or application has chosen.
from matplotlib.figure import Figure

from tfgan_apps.atomic import write_with
from tfgan_apps.data.convert import from_signed_unit_numpy

# Class 0 (background) black, then well separated colours (Pascal VOC-like, colour-blind aware
# enough for up to 8 classes); longer lists cycle through a generated palette.
SEGMENTATION_PALETTE = np.array(
    [
        [0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
        [145, 30, 180], [70, 240, 240], [245, 130, 48], [240, 50, 230], [128, 128, 128],
    ],
    dtype=np.uint8,
)


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """Convert images to ``uint8`` RGB ``[N, H, W, 3]``.

    Args:
        images: ``[N, H, W, C]`` or ``[H, W, C]``, C in {1, 3}: floats in [-1, 1] or ``uint8``.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.dtype != np.uint8:
        images = from_signed_unit_numpy(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile ``[N, H, W, C]`` images (floats in [-1, 1] or uint8) into one uint8 RGB picture.

    Args:
        images: the images, row-major in the grid.
        columns: images per row (default: a near-square grid).
        padding: white pixels between tiles.

    Returns:
        ``uint8[rows * (H + p) + p, columns * (W + p) + p, 3]``.
    """
    images = to_uint8_images(images)
    n, h, w, _ = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, 3), 255,
                   dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = images[i]
    return grid


def save_png(picture: np.ndarray, path: str) -> str:
    """Write a ``uint8[H, W, 3]`` picture (or a float one in [-1, 1]) to ``path`` atomically."""
    picture = to_uint8_images(picture)[0]
    return write_with(path, lambda tmp: matplotlib.image.imsave(tmp, picture, format="png"),
                      "picture")


def save_image_grid(images: np.ndarray, path: str, columns: int | None = None) -> str:
    """Tile ``images`` with :func:`image_grid` and write the PNG to ``path``; returns ``path``."""
    return save_png(image_grid(images, columns), path)


def colorize_mask(mask: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """Class-id mask ``int[..., H, W]`` -> ``uint8[..., H, W, 3]`` colours from ``palette``.

    Ids beyond the palette wrap around it.
    """
    palette = SEGMENTATION_PALETTE if palette is None else np.asarray(palette, np.uint8)
    mask = np.asarray(mask).astype(np.int64)
    if mask.ndim >= 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    return palette[np.mod(mask, len(palette))]


def overlay_mask(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5,
                 palette: np.ndarray | None = None) -> np.ndarray:
    """Blend coloured mask over an image; background (class 0) stays the plain image.

    Args:
        image: ``[H, W, 3]`` uint8 or float in [-1, 1].
        mask: ``int[H, W]`` class ids.
        alpha: opacity of the colours over the image.

    Returns:
        ``uint8[H, W, 3]``.
    """
    image = to_uint8_images(image)[0].astype(np.float32)
    colours = colorize_mask(mask, palette).astype(np.float32)
    foreground = (np.asarray(mask).reshape(image.shape[:2]) > 0)[..., None]
    blended = np.where(foreground, (1 - alpha) * image + alpha * colours, image)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def plot_curves(
    history: Mapping[str, Sequence[float]],
    path: str,
    groups: Mapping[str, Sequence[str]] | None = None,
    xlabel: str = "epoch",
) -> str:
    """Plot training curves (e.g. ``d_loss``/``g_loss`` per epoch) into a PNG.

    Args:
        history: name -> values per epoch (a Keras ``History.history``).
        path: output PNG path.
        groups: panel title -> names to draw together; default one panel with every series.
        xlabel: x axis label.
    """
    groups = groups or {"training": list(history)}
    groups = {t: [n for n in names if n in history] for t, names in groups.items()}
    groups = {t: names for t, names in groups.items() if names}
    fig = Figure(figsize=(5 * max(len(groups), 1), 3.5))
    axes = fig.subplots(1, max(len(groups), 1), squeeze=False)
    for ax, (title, names) in zip(axes[0], groups.items(), strict=False):
        for name in names:
            # None: a non-finite value (standard JSON has no NaN)
            values = [np.nan if v is None else v for v in history[name]]
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100), "plot")
