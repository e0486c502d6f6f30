"""The built-in offline TFDS dataset ``tfgan_shapes``: procedural, deterministic, no download.

Importing this module registers :class:`TfganShapes`, after which
``tfds.load("tfgan_shapes/<config>", split="train" | "test")`` serves it like any TFDS dataset.
Every example is rendered by :mod:`tfgan_apps.data.shapes` (vectorised numpy) from
``np.random.default_rng([seed, split_id, index])`` (train = 0, test = 1), so a given config
gives bit-identical images on every machine.

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

import numpy as np
import tensorflow_datasets as tfds

# Re-exported: the renderers and class names are part of this dataset's documented interface.
from tfgan_apps.data.shapes import (  # noqa: F401
    SEGMENTATION_CLASS_NAMES,
    SHAPE_KINDS,
    render_generation_example,
    render_segmentation_example,
    render_style_example,
    style_a_to_b,
    style_b_to_a,
)
from tfgan_apps.errors import UserError

APPS: tuple[str, ...] = ("generation", "style", "segmentation")
SPLIT_IDS: dict[str, int] = {"train": 0, "test": 1}
DEFAULT_SEED = 20240611


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

    Raises:
        UserError: (on creation) an unknown ``app``, ``image_size < 16`` or an empty split.
    """

    app: str = "generation"
    image_size: int = 32
    num_train: int = 10000
    num_test: int = 1000
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.app not in APPS:
            raise UserError(f"app must be one of {APPS}, got {self.app!r}")
        if self.image_size < 16:
            raise UserError(f"image_size must be >= 16 pixels, got {self.image_size}")
        if self.num_train < 1 or self.num_test < 1:
            raise UserError(
                f"num_train and num_test must be >= 1, got {self.num_train} and {self.num_test}"
            )

    def split_size(self, split: str) -> int:
        """Number of examples of ``split`` (``"train"`` or ``"test"``)."""
        if split not in SPLIT_IDS:
            raise UserError(f"split must be one of {tuple(SPLIT_IDS)}, got {split!r}")
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
        raise UserError(f"index must be in [0, {size}) for split {split!r}, got {index}")
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
