"""The built-in offline TFDS dataset ``tfgan_shapes``: procedural, deterministic, no download.

Importing this module registers :class:`TfganShapes`, after which
``tfds.load("tfgan_shapes/<config>", split="train" | "test")`` serves it like any TFDS dataset.
Every example is rendered with vectorised numpy from ``np.random.default_rng([seed, split_id,
index])`` (train = 0, test = 1), using only ``+ - * /``, ``sqrt``, ``floor``, comparisons and
PCG64 draws, so a given config gives bit-identical images on every machine.

Configs (``app``: image size, train / test examples):

* ``generation`` (default) 32x32 10000/1000, ``generation_64`` 64x64 5000/500,
  ``generation_128`` 128x128 2000/200 -- for DCGAN. Features ``image`` (uint8 ``[H, W, 3]``) and
  ``label`` (``ClassLabel`` over :data:`SHAPE_KINDS`, the kind covering most pixels). 1-3 flat,
  anti-aliased objects (disc, square, triangle, ring, cross) from a 10-colour palette with
  +-20 jitter on a plain or linearly graded background; no noise.
* ``style`` 64x64 2000/200, ``style_128`` 128x128 1000/100 -- for CycleGAN. Features
  ``image_a``, ``image_b`` (independent scenes: the domains are unpaired) and ``image_a_in_b``
  = ``style_a_to_b(image_a)``, the true translation of ``image_a``. Style A ("day"): dark warm
  objects (hues red..purple..olive) on light cream/sand backgrounds. Style B ("night") is the
  exact photographic negative ``b = 255 - a`` (see :func:`style_a_to_b`): light cool objects on
  dark navy. A's object hues lie in 280..95 degrees (palette 305..62, plus jitter), B's in
  100..275: disjoint, so neither a hue-preserving nor a background-only translation reproduces
  B's distribution; the negative is the simple mapping consistent with both domains.
* ``segmentation`` 64x64 10000/1000, ``segmentation_128`` 128x128 1000/100 -- for pix2pix.
  Features ``image`` (uint8 ``[H, W, 3]``) and ``segmentation_mask`` (uint8 ``[H, W, 1]``, ids
  into :data:`SEGMENTATION_CLASS_NAMES`). Background and object colours come from one uniform
  distribution, the class is given by shape only; the background has low-frequency colour noise,
  stripes and clutter (thin lines, small blobs, labelled background); 1-4 objects (discs,
  axis-aligned squares, rotated triangles) of radius 8-20 px (at 64), each keeping >= 70 % of
  its area visible; pixel noise std 6.

The same seed is used at every resolution, so e.g. ``generation`` and ``generation_64`` show the
same scenes at two sizes.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import tensorflow_datasets as tfds

SHAPE_KINDS: tuple[str, ...] = ("disc", "square", "triangle", "ring", "cross")
"""Object kinds of the generation configs; ``label`` indexes this tuple."""

SEGMENTATION_CLASS_NAMES: tuple[str, ...] = ("background", "disc", "square", "triangle")
"""Ids of ``segmentation_mask``: 0 background (with its clutter), 1 disc, 2 square, 3 triangle."""

APPS: tuple[str, ...] = ("generation", "style", "segmentation")
SPLIT_IDS: dict[str, int] = {"train": 0, "test": 1}
DEFAULT_SEED = 20240611

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
        raise ValueError(f"style_a_to_b expects a uint8 image, got dtype {image.dtype}")
    return np.uint8(255) - image


def style_b_to_a(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`style_a_to_b` (``a = 255 - b``); uint8 ``[..., H, W, 3]`` -> same."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"style_b_to_a expects a uint8 image, got dtype {image.dtype}")
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


# --- TFDS builder ---------------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class TfganShapesConfig(tfds.core.BuilderConfig):
    """Config of :class:`TfganShapes`.

    Attributes:
        app: ``"generation"``, ``"style"`` or ``"segmentation"`` (which features are rendered).
        image_size: side of the square images in pixels, >= 16.
        num_train: examples in the ``train`` split, >= 1.
        num_test: examples in the ``test`` split, >= 1.
        seed: first entry of every example's ``default_rng([seed, split_id, index])``.
    """

    app: str = "generation"
    image_size: int = 32
    num_train: int = 10000
    num_test: int = 1000
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.app not in APPS:
            raise ValueError(f"app must be one of {APPS}, got {self.app!r}")
        if self.image_size < 16:
            raise ValueError(f"image_size must be >= 16 pixels, got {self.image_size}")
        if self.num_train < 1 or self.num_test < 1:
            raise ValueError(
                f"num_train and num_test must be >= 1, got {self.num_train} and {self.num_test}"
            )

    def split_size(self, split: str) -> int:
        """Number of examples of ``split`` (``"train"`` or ``"test"``)."""
        if split not in SPLIT_IDS:
            raise ValueError(f"split must be one of {tuple(SPLIT_IDS)}, got {split!r}")
        return self.num_train if split == "train" else self.num_test


def _config(
    name: str, app: str, image_size: int, num_train: int, num_test: int, text: str
) -> TfganShapesConfig:
    return TfganShapesConfig(
        name=name,
        description=f"{app}, {image_size}x{image_size}: {text}",
        app=app,
        image_size=image_size,
        num_train=num_train,
        num_test=num_test,
    )


_GENERATION_TEXT = "1-3 flat shapes on plain/graded backgrounds, label = dominant kind."
_STYLE_TEXT = "unpaired day (A) / night (B = 255 - A) scenes plus the true A->B translation."
_SEGMENTATION_TEXT = "textured, cluttered scenes of discs, squares, triangles and their masks."


def render_example(
    config: TfganShapesConfig, split: str, index: int
) -> dict[str, np.ndarray | int]:
    """The features of example ``index`` of ``split``, exactly as the TFDS builder stores them.

    Args:
        config: the dataset config (its ``app``, ``image_size`` and ``seed`` are used).
        split: ``"train"`` or ``"test"``.
        index: example index in ``[0, config.split_size(split))``; also the TFDS key.

    Returns:
        generation: ``{"image": uint8 [S, S, 3], "label": int}``; style: ``{"image_a",
        "image_b", "image_a_in_b"}`` uint8 ``[S, S, 3]``; segmentation: ``{"image": uint8
        [S, S, 3], "segmentation_mask": uint8 [S, S, 1]}``.
    """
    size = config.split_size(split)
    if not 0 <= index < size:
        raise ValueError(f"index must be in [0, {size}) for split {split!r}, got {index}")
    rng = np.random.default_rng([config.seed, SPLIT_IDS[split], index])
    if config.app == "generation":
        image, label = render_generation_example(rng, config.image_size)
        return {"image": image, "label": label}
    if config.app == "style":
        return render_style_example(rng, config.image_size)
    image, mask = render_segmentation_example(rng, config.image_size)
    return {"image": image, "segmentation_mask": mask}


class TfganShapes(tfds.core.GeneratorBasedBuilder):
    """``tfgan_shapes``: procedural shapes for generation, style transfer and segmentation.

    Nothing is downloaded: examples are rendered by :func:`render_example` (see the module
    docstring for the configs and features). Splits ``train`` and ``test`` are stored in index
    order (example ``i`` has key ``i``), so ``tfds.load(..., shuffle_files=False)`` yields
    ``render_example(config, split, 0), render_example(config, split, 1), ...``.

    Example:

    ```python
    import tensorflow_datasets as tfds
    import tfgan_apps.data.builtin  # registers the builder

    ds = tfds.load("tfgan_shapes/segmentation", split="train")
    ```
    """

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: generation (32/64/128), style (64/128) and segmentation "
        "(64/128) configs.",
        "1.1.0": "segmentation: 10000 train / 1000 test examples (was 3000 / 300; the first "
        "3000 / 300 are unchanged). With 3000, a 64x64 U-Net overfits within 10 CPU minutes.",
    }
    BUILDER_CONFIGS = [
        _config("generation", "generation", 32, 10000, 1000, _GENERATION_TEXT),
        _config("generation_64", "generation", 64, 5000, 500, _GENERATION_TEXT),
        _config("generation_128", "generation", 128, 2000, 200, _GENERATION_TEXT),
        _config("style", "style", 64, 2000, 200, _STYLE_TEXT),
        _config("style_128", "style", 128, 1000, 100, _STYLE_TEXT),
        _config("segmentation", "segmentation", 64, 10000, 1000, _SEGMENTATION_TEXT),
        _config("segmentation_128", "segmentation", 128, 1000, 100, _SEGMENTATION_TEXT),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        shape = (config.image_size, config.image_size, 3)
        supervised_keys = None
        metadata = None
        if config.app == "generation":
            features = {
                "image": tfds.features.Image(shape=shape, encoding_format="png"),
                "label": tfds.features.ClassLabel(names=list(SHAPE_KINDS)),
            }
            supervised_keys = ("image", "label")
        elif config.app == "style":
            features = {
                name: tfds.features.Image(shape=shape, encoding_format="png")
                for name in ("image_a", "image_b", "image_a_in_b")
            }
        else:
            features = {
                "image": tfds.features.Image(shape=shape, encoding_format="png"),
                "segmentation_mask": tfds.features.Image(
                    shape=shape[:2] + (1,), encoding_format="png", use_colormap=True
                ),
            }
            supervised_keys = ("image", "segmentation_mask")
            metadata = tfds.core.MetadataDict(class_names=list(SEGMENTATION_CLASS_NAMES))
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Procedural, deterministic shapes rendered offline for the tfgan_apps GAN "
                f"applications. Config {config.name!r}: {config.description}"
            ),
            features=tfds.features.FeaturesDict(features),
            supervised_keys=supervised_keys,
            disable_shuffling=True,  # keep key order: example i is render_example(..., i)
            metadata=metadata,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict:
        del dl_manager  # procedural: nothing to download
        return {split: self._generate_examples(split) for split in SPLIT_IDS}

    def _generate_examples(self, split: str):
        for index in range(self.builder_config.split_size(split)):
            yield index, render_example(self.builder_config, split, index)
