"""Procedural shape scenes, rendered with numpy: the pixels of the built-in dataset.

Each ``render_*_example(rng, image_size)`` draws one example from a ``np.random.Generator``
using only ``+ - * /``, ``sqrt``, ``floor``, comparisons and PCG64 draws, so the same generator
state gives bit-identical images on every machine. :mod:`tfgan_apps.data.builtin` wraps them
in the ``tfgan_shapes`` TFDS builder (which seeds one generator per example); nothing here
depends on TensorFlow.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tfgan_apps.errors import UserError

SHAPE_KINDS: tuple[str, ...] = ("disc", "square", "triangle", "ring", "cross")
"""Object kinds of the generation configs; ``label`` indexes this tuple."""

SEGMENTATION_CLASS_NAMES: tuple[str, ...] = ("background", "disc", "square", "triangle")
"""Ids of ``segmentation_mask``: 0 background (with its clutter), 1 disc, 2 square, 3 triangle."""

# --- palettes (RGB, uint8 values) -------------------------------------------------------------
_GENERATION_OBJECT_COLOURS = np.array(
    [
        [220, 50, 47],  # red
        [245, 140, 30],  # orange
        [240, 210, 40],  # yellow
        [60, 170, 75],  # green
        [30, 160, 160],  # teal
        [40, 90, 210],  # blue
        [130, 60, 190],  # purple
        [235, 100, 170],  # pink
        [245, 245, 240],  # white
        [30, 30, 35],  # black
    ],
    dtype=np.float32,
)
_GENERATION_BACKGROUNDS = np.array(
    [
        [25, 30, 60],
        [50, 50, 55],
        [235, 228, 205],
        [165, 200, 230],
        [145, 170, 135],
        [205, 185, 145],
    ],
    dtype=np.float32,
)
# Style A: dark, warm-to-purple objects (hues 280..95 degrees with jitter) on light warm
# backgrounds. Their negatives (style B) have hues 100..275 and dark navy backgrounds: disjoint.
_STYLE_A_OBJECT_COLOURS = np.array(
    [
        [175, 30, 45],  # crimson
        [190, 85, 35],  # brick
        [170, 125, 25],  # ochre
        [125, 45, 115],  # plum
        [115, 25, 55],  # wine
        [115, 70, 40],  # brown
        [185, 45, 115],  # raspberry
        [100, 105, 35],  # olive
    ],
    dtype=np.float32,
)
_STYLE_A_BACKGROUNDS = np.array(
    [[246, 238, 215], [236, 214, 172], [248, 222, 196], [240, 236, 186], [226, 220, 208]],
    dtype=np.float32,
)


class _Shape(NamedTuple):
    kind: str
    cy: float  # centre, pixels
    cx: float
    radius: float  # pixels
    cos: float  # rotation
    sin: float


# --- geometry ---------------------------------------------------------------------------------
def _pixel_grid(image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as broadcastable ``[H, 1]`` (y) and ``[1, W]`` (x) float32."""
    centres = np.arange(image_size, dtype=np.float32) + np.float32(0.5)
    return centres[:, None], centres[None, :]


def _random_rotation(rng: np.random.Generator) -> tuple[float, float]:
    """(cos, sin) of an angle in (-90, 90) degrees from the rational parametrisation.

    ``t = tan(angle / 2)`` gives ``cos = (1 - t^2) / (1 + t^2)``, ``sin = 2t / (1 + t^2)``: no libm
    trigonometry, so the result is bit-identical everywhere. 180 degrees covers every distinct
    orientation of the square, cross (90) and triangle (120).
    """
    t = float(rng.uniform(-1.0, 1.0))
    return (1.0 - t * t) / (1.0 + t * t), 2.0 * t / (1.0 + t * t)


_HALF_SQRT3 = float(np.sqrt(3.0)) / 2.0


def _signed_distance(shape: _Shape, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Approximate signed distance in pixels (< 0 inside) of ``shape`` on the grid, ``[H, W]``.

    Exact for discs and rings; the max/min forms of the polygons are exact inside and close
    enough outside for one-pixel anti-aliasing.
    """
    dy, dx = y - shape.cy, x - shape.cx
    u = shape.cos * dx + shape.sin * dy  # object frame
    v = shape.cos * dy - shape.sin * dx
    r = shape.radius
    if shape.kind == "disc":
        return np.sqrt(u * u + v * v) - r
    if shape.kind == "square":  # half side r: corners stand 41 % out of the inscribed disc
        return np.maximum(np.abs(u), np.abs(v)) - r
    if shape.kind == "triangle":  # equilateral, circumradius 1.35 r, inradius 0.675 r
        d1 = -v
        d2 = _HALF_SQRT3 * u + 0.5 * v
        d3 = -_HALF_SQRT3 * u + 0.5 * v
        return np.maximum(np.maximum(d1, d2), d3) - 0.675 * r
    if shape.kind == "ring":  # outer radius r, inner 0.44 r
        return np.abs(np.sqrt(u * u + v * v) - 0.72 * r) - 0.28 * r
    if shape.kind == "cross":  # arms of half length r and half width 0.3 r
        au, av = np.abs(u), np.abs(v)
        return np.minimum(np.maximum(au - r, av - 0.3 * r), np.maximum(au - 0.3 * r, av - r))
    raise ValueError(f"unknown shape kind {shape.kind!r}; expected one of {SHAPE_KINDS}")


def _segment_distance(
    ay: float, ax: float, by: float, bx: float, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Distance in pixels from every grid point to the segment a-b, ``[H, W]``."""
    py, px = y - ay, x - ax
    sy, sx = by - ay, bx - ax
    h = np.clip((py * sy + px * sx) / max(sy * sy + sx * sx, 1e-6), 0.0, 1.0)
    ey, ex = py - h * sy, px - h * sx
    return np.sqrt(ey * ey + ex * ex)


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in ``[0, 1]`` from a signed distance (one-pixel ramp)."""
    return np.clip(np.float32(0.5) - distance, 0.0, 1.0)


def _sample_shape(
    rng: np.random.Generator, image_size: int, kinds: tuple[str, ...], radius_range: tuple
) -> _Shape:
    kind = kinds[int(rng.integers(len(kinds)))]
    radius = float(rng.uniform(*radius_range))
    cy, cx = rng.uniform(radius, image_size - radius, size=2)
    cos, sin = _random_rotation(rng)
    return _Shape(kind, float(cy), float(cx), radius, cos, sin)


def _graded_background(
    rng: np.random.Generator, image_size: int, colour: np.ndarray, max_shift: int
) -> np.ndarray:
    """``[H, W, 3]`` float32: plain ``colour`` (p = 0.4) or a linear gradient away from it."""
    image = np.broadcast_to(colour, (image_size, image_size, 3)).astype(np.float32)
    if rng.random() < 0.4:
        return image
    other = np.clip(colour + rng.integers(-max_shift, max_shift + 1, 3), 0, 255)
    cos, sin = _random_rotation(rng)
    y, x = _pixel_grid(image_size)
    half = image_size / 2.0
    t = np.clip(((x - half) * cos + (y - half) * sin) / image_size + 0.5, 0.0, 1.0)
    return image + t[..., None] * (other - colour).astype(np.float32)


def _pick_colours(
    rng: np.random.Generator, palette: np.ndarray, count: int, avoid: np.ndarray, jitter: int
) -> np.ndarray:
    """``count`` distinct palette entries far (>= 110) from ``avoid``, jittered; ``[count, 3]``."""
    far = np.flatnonzero(np.sqrt(((palette - avoid) ** 2).sum(-1)) >= 110.0)
    if far.size < count:
        far = np.arange(len(palette))
    chosen = palette[rng.choice(far, size=count, replace=False)]
    return np.clip(chosen + rng.integers(-jitter, jitter + 1, (count, 3)), 0, 255)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _render_shape_scene(
    rng: np.random.Generator,
    image_size: int,
    object_colours: np.ndarray,
    backgrounds: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Clean anti-aliased scene of 1-3 objects; returns (uint8 ``[H, W, 3]``, dominant kind id)."""
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    background = np.clip(background + rng.integers(-15, 16, 3), 0, 255)
    image = _graded_background(rng, image_size, background, max_shift=40)
    count = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
    colours = _pick_colours(rng, object_colours, count, background, jitter=20)
    y, x = _pixel_grid(image_size)
    radius_range = (0.14 * image_size, 0.3 * image_size)
    coverages, kinds = [], []
    for colour in colours:
        shape = _sample_shape(rng, image_size, SHAPE_KINDS, radius_range)
        alpha = _coverage(_signed_distance(shape, y, x))
        image = image + alpha[..., None] * (colour.astype(np.float32) - image)
        coverages.append(alpha)
        kinds.append(SHAPE_KINDS.index(shape.kind))
    # Visible area of object i: its coverage times what the later objects leave uncovered.
    visible = []
    for i, alpha in enumerate(coverages):
        for later in coverages[i + 1 :]:
            alpha = alpha * (1.0 - later)
        visible.append(float(alpha.sum()))
    return _to_uint8(image), kinds[int(np.argmax(visible))]


# --- public renderers ---------------------------------------------------------------------------
def render_generation_example(
    rng: np.random.Generator, image_size: int = 32
) -> tuple[np.ndarray, int]:
    """Render one generation example.

    Args:
        rng: the example's generator (``np.random.default_rng([seed, split_id, index])``).
        image_size: side ``S`` in pixels (>= 16).

    Returns:
        ``(image, label)``: uint8 ``[S, S, 3]`` in ``[0, 255]`` and the index in
        :data:`SHAPE_KINDS` of the object kind with the most visible pixels.
    """
    return _render_shape_scene(rng, image_size, _GENERATION_OBJECT_COLOURS, _GENERATION_BACKGROUNDS)


def style_a_to_b(image: np.ndarray) -> np.ndarray:
    """Translate a style-A ("day") image into style B ("night"): the photographic negative.

    ``b = 255 - a`` on every channel of every pixel, i.e. a 180-degree hue rotation with the
    brightness inverted. It is an exact bijection of uint8 RGB (its own inverse), linear and
    smooth: in the ``[-1, 1]`` scaling used by the GANs it is ``b = -a``.

    Args:
        image: uint8 ``[..., H, W, 3]`` (any leading batch dimensions), values in ``[0, 255]``.

    Returns:
        uint8 array of the same shape.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise UserError(f"style_a_to_b expects a uint8 image, got dtype {image.dtype}")
    return np.uint8(255) - image


def style_b_to_a(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`style_a_to_b` (``a = 255 - b``); uint8 ``[..., H, W, 3]`` -> same."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise UserError(f"style_b_to_a expects a uint8 image, got dtype {image.dtype}")
    return np.uint8(255) - image


def render_style_example(rng: np.random.Generator, image_size: int = 64) -> dict[str, np.ndarray]:
    """Render one unpaired style example.

    Args:
        rng: the example's generator.
        image_size: side ``S`` in pixels (>= 16).

    Returns:
        ``{"image_a", "image_b", "image_a_in_b"}``, each uint8 ``[S, S, 3]``: a style-A scene, an
        independent scene in style B, and ``style_a_to_b(image_a)`` (the ground truth).
    """
    image_a, _ = _render_shape_scene(rng, image_size, _STYLE_A_OBJECT_COLOURS, _STYLE_A_BACKGROUNDS)
    scene_b, _ = _render_shape_scene(rng, image_size, _STYLE_A_OBJECT_COLOURS, _STYLE_A_BACKGROUNDS)
    return {
        "image_a": image_a,
        "image_b": style_a_to_b(scene_b),
        "image_a_in_b": style_a_to_b(image_a),
    }


def _smooth_noise(rng: np.random.Generator, image_size: int, cells: int) -> np.ndarray:
    """Bilinearly upsampled ``cells x cells x 3`` uniform noise in ``[-1, 1]``: ``[S, S, 3]``."""
    grid = rng.uniform(-1.0, 1.0, (cells, cells, 3)).astype(np.float32)
    pos = (np.arange(image_size, dtype=np.float32) + 0.5) * np.float32((cells - 1) / image_size)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, cells - 1)
    f = pos - i0
    rows = grid[i0] * (1 - f)[:, None, None] + grid[i1] * f[:, None, None]
    return rows[:, i0] * (1 - f)[None, :, None] + rows[:, i1] * f[None, :, None]


def _random_colours(rng: np.random.Generator, count: int) -> np.ndarray:
    """The single colour distribution of the segmentation configs: uniform in [25, 230]^3."""
    return rng.integers(25, 231, (count, 3)).astype(np.float32)


def _distinct_colour(rng: np.random.Generator, avoid: list[np.ndarray]) -> np.ndarray:
    """A colour >= 100 (RGB distance) from ``avoid[0]`` and >= 70 from the others, if found."""
    candidates = _random_colours(rng, 16)
    thresholds = np.array([100.0] + [70.0] * (len(avoid) - 1))
    distance = np.sqrt(((candidates[:, None] - np.stack(avoid)[None]) ** 2).sum(-1))
    margin = (distance - thresholds).min(axis=1)
    ok = np.flatnonzero(margin >= 0)
    return candidates[ok[0] if ok.size else int(np.argmax(margin))]


def render_segmentation_example(
    rng: np.random.Generator, image_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Render one segmentation example; mask and image are painted with the same hard masks.

    Args:
        rng: the example's generator.
        image_size: side ``S`` in pixels (>= 16); lengths below are for 64 and scale with ``S``.

    Returns:
        ``(image, mask)``: uint8 ``[S, S, 3]`` in ``[0, 255]`` and uint8 ``[S, S, 1]`` with ids
        into :data:`SEGMENTATION_CLASS_NAMES`. Later objects are painted over earlier ones in
        both. Background: one random colour + 5x5 bilinear colour noise (+-30) + triangle-wave
        stripes (p = 0.7, period 5-12 px, +-8..18) + 1-4 thin lines and 1-5 blobs (radius
        1.5-3.5 px) in random colours. Objects: 1-4 of disc (radius r) / axis-aligned square
        (half side r) / randomly rotated equilateral triangle (circumradius 1.35 r), r in 8-20 px,
        random colour (same distribution as the background, >= 100 away from it), +-15 % linear
        shading; each earlier object keeps >= 70 % of its area. Noise: sum of three uniforms,
        std 6.
    """
    scale = image_size / 64.0
    y, x = _pixel_grid(image_size)
    background = _random_colours(rng, 1)[0]
    image = background + 30.0 * _smooth_noise(rng, image_size, cells=5)
    if rng.random() < 0.7:
        cos, sin = _random_rotation(rng)
        period = rng.uniform(5.0, 12.0) * scale
        phase = (x * cos + y * sin) / np.float32(period) + np.float32(rng.random())
        wave = np.abs(2.0 * (phase - np.floor(phase)) - 1.0) * 2.0 - 1.0  # triangle, [-1, 1]
        weights = rng.uniform(8.0, 18.0, 3).astype(np.float32)
        image = image + wave[..., None] * weights
    for _ in range(int(rng.integers(1, 5))):  # thin lines
        ay, ax, by, bx = rng.uniform(0, image_size, 4)
        width = rng.uniform(0.6, 1.1) * scale
        line = _segment_distance(ay, ax, by, bx, y, x) <= width
        image = np.where(line[..., None], _random_colours(rng, 1)[0], image)
    for _ in range(int(rng.integers(1, 6))):  # small blobs
        cy, cx = rng.uniform(0, image_size, 2)
        blob = _Shape("disc", float(cy), float(cx), rng.uniform(1.5, 3.5) * scale, 1.0, 0.0)
        inside = _signed_distance(blob, y, x) <= 0
        image = np.where(inside[..., None], _random_colours(rng, 1)[0], image)

    owner = np.zeros((image_size, image_size), np.int32)  # 1 + index of the visible object
    areas: list[int] = []
    class_ids: list[int] = [0]  # class id of owner value 0, 1, 2, ...
    avoid = [background]
    kinds = SEGMENTATION_CLASS_NAMES[1:]
    for _ in range(int(rng.integers(1, 5))):
        for _attempt in range(10):
            shape = _sample_shape(rng, image_size, kinds, (8.0 * scale, 20.0 * scale))
            if shape.kind == "square":  # axis-aligned: rotated squares next to discs learn slowly
                shape = shape._replace(cos=1.0, sin=0.0)
            inside = _signed_distance(shape, y, x) <= 0
            new_owner = np.where(inside, len(areas) + 1, owner)
            visible = np.bincount(new_owner.ravel(), minlength=len(areas) + 2)[1:-1]
            if np.all(visible >= 0.7 * np.asarray(areas, dtype=np.float64)):
                break
        else:
            continue  # no placement keeps the others visible enough: fewer objects
        colour = _distinct_colour(rng, avoid)
        avoid.append(colour)
        gy, gx = rng.uniform(-0.15, 0.15, 2) / shape.radius
        shade = 1.0 + gy * (y - shape.cy) + gx * (x - shape.cx)
        image = np.where(inside[..., None], shade[..., None] * colour, image)
        owner = new_owner
        areas.append(int(inside.sum()))
        class_ids.append(SEGMENTATION_CLASS_NAMES.index(shape.kind))
    noise = rng.random((3, image_size, image_size, 3), dtype=np.float32).sum(0) - 1.5
    image = image + 12.0 * noise  # std of the sum of three U(0, 1) is 0.5
    mask = np.asarray(class_ids, np.uint8)[owner]
    return _to_uint8(image), mask[..., None]
