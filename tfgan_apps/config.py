"""Typed run settings and the options of each application (a leaf: imports only errors).

:class:`TrainConfig` holds what every run has (data source, batch, epochs, seed, output,
strategy, XLA, precision, checkpoint cadence); its ``options`` field holds one frozen dataclass
of the application's own options (:class:`DCGANOptions`, :class:`Pix2PixOptions`,
:class:`CycleGANOptions`), whose defaults are the papers' and are written only here. The CLI's
flags and their help texts are generated from these fields, ``config.json`` is written from and
read back into them, and unknown keys anywhere are an error naming the accepted ones.

Example:
    >>> config = TrainConfig.create("cyclegan", epochs=20, base_filters=32)
    >>> config.options.loss   # the application's default: LSGAN, the paper's
    'least_squares'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tfgan_apps.errors import UserError, UserPathError

STRATEGIES = ("default", "auto", "mirrored", "multiworker")
#: ``TrainConfig.precision`` values (Keras dtype policies in :mod:`tfgan_apps.precision`)
PRECISIONS = ("fp32", "bf16", "fp16")
#: what each preset name means, for help texts
PRESET_SUMMARIES = {
    "default": "the settings measured best here",
    "paper": "the paper's recipe",
    "tf-tutorial": "the TensorFlow DCGAN tutorial's networks, optimizer and batch (with "
                   "--image-size 28 --channels 1)",
}
#: the preset every application has: its option defaults, the measured best settings
DEFAULT_PRESET = "default"
ADVERSARIAL_LOSSES = ("non_saturating", "minimax", "least_squares", "hinge")
#: DiffAugment policies (``tfgan_apps.augment.POLICIES``; repeated here: config is a leaf)
DIFF_AUGMENT_POLICIES = ("none", "translation", "color,translation", "color,translation,cutout")
#: DCGAN's default DiffAugment choice: the full policy below this many training images, none
#: from it on (benchmarks/quality_dcgan.py: it wins at 300 images and loses at 10000)
SMALL_DATASET_IMAGES = 2000


def option(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its CLI description.

    Args:
        default: the default value (the paper's, unless the help says why not).
        help: help text; the CLI appends the default.
        **cli: ``flag`` (CLI name when it is not ``--field-name``), ``aliases``, ``choices``,
            ``type`` (element type for a ``None`` default), ``minimum`` (numbers), ``path``
            (``"dir"``: an existing folder), ``source`` (True: one of the mutually exclusive data
            sources).
    """
    return field(default=default, metadata={"help": help, **cli})


def _check_number(name: str, value: Any, kind: type, minimum: float | None,
                  strict: bool = False) -> None:
    if value is None:
        return
    numeric = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, numeric):
        raise UserError(f"must be {'an integer' if kind is int else 'a number'}, got {value!r}",
                        option=name)
    if value != value or value in (float("inf"), float("-inf")):
        raise UserError(f"must be a finite number, got {value!r}", option=name)
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        if kind is int and minimum == 1:
            expected = "a positive integer"
        elif strict and minimum == 0:
            expected = "positive"
        else:
            expected = f"{'> ' if strict else '>= '}{minimum}"
        raise UserError(f"must be {expected}, got {value!r}", option=name)


def check_fields(instance: Any) -> None:
    """Check every field of a config dataclass against its metadata (choices, minimum, path).

    Raises:
        UserError: naming the field (``option``), the bad value and what is accepted.
        UserPathError: a ``path="dir"`` field names no existing folder.
    """
    for f in dataclasses.fields(instance):
        value, meta = getattr(instance, f.name), f.metadata
        if value is None:
            continue
        if "choices" in meta and value not in meta["choices"]:
            raise UserError(f"must be one of {list(meta['choices'])}, got {value!r}",
                            option=f.name)
        kind = meta.get("type") or type(f.default)
        if kind in (int, float):
            _check_number(f.name, value, kind, meta.get("minimum"), meta.get("strict", False))
        if meta.get("path") == "dir":
            check_folder(f.name, value)


def check_folder(name: str, path: Any) -> None:
    """Refuse a local ``path`` that is not an existing folder (remote ones, ``gs://...``, are
    checked by the data layer when it lists them).

    Raises:
        UserPathError: naming the option ``name``.
    """
    if not isinstance(path, str):
        raise UserError(f"must be a folder path, got {path!r}", option=name)
    if "://" not in path and not os.path.isdir(path):
        what = "is a file, not a folder" if os.path.isfile(path) else "no such directory"
        raise UserPathError(f"{path}: {what}", option=name)


def _from_mapping(cls: type, data: Mapping[str, Any], what: str) -> Any:
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"unknown {what} option(s) {unknown}; accepted: {sorted(known)}")
    return cls(**data)


# ------------------------------------------------------------------ application options
@dataclass(frozen=True)
class AppOptions:
    """Base of the per-application option dataclasses; subclasses set ``app``."""

    app: ClassVar[str] = ""
    #: named presets besides ``"default"`` (the field defaults, the measured best): flat
    #: settings, run settings and options mixed, applied under what the caller gives.
    #: ``"paper"`` is the paper's recipe.
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad value."""
        check_fields(self)

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        """``("default", *presets)``: what ``TrainConfig.preset`` accepts for this app."""
        return (DEFAULT_PRESET, *cls.presets)

    @classmethod
    def preset_settings(cls, preset: str) -> Mapping[str, Any]:
        """The flat settings of ``preset`` (empty for ``"default"``).

        Raises:
            UserError: an unknown preset, listing the known ones.
        """
        if preset == DEFAULT_PRESET:
            return {}
        if preset not in cls.presets:
            raise UserError(f"unknown preset {preset!r} for {cls.app}; choose one of "
                            f"{list(cls.preset_names())}", option="preset")
        return cls.presets[preset]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppOptions:
        """The options of ``data``; unknown keys are a :class:`UserError` naming them."""
        return _from_mapping(cls, data, cls.app)

    @classmethod
    def for_app(cls, app: str) -> type[AppOptions]:
        """The options class of application ``app``."""
        classes = {sub.app: sub for sub in cls.__subclasses__()}
        if app not in classes:
            raise UserError(f"unknown application {app!r}; choose one of {sorted(classes)}",
                            option="app")
        return classes[app]


@dataclass(frozen=True)
class DCGANOptions(AppOptions):
    """DCGAN (Radford et al. 2015): the networks and loss of image generation."""

    app: ClassVar[str] = "dcgan"
    channels: int | None = option(None, "1 grayscale or 3 RGB (default: the dataset's own, 3 "
                                  "for folders)", type=int, choices=(1, 3))
    latent_dim: int = option(100, "length of the noise vector z", minimum=1)
    base_filters: int = option(64, "network width: filters of the first layer", minimum=1)
    upsampling: str = option("upsample", "generator blocks: nearest upsampling + 3x3 conv "
                             "(fewer checkerboard artifacts) or the paper's transposed "
                             "convolutions", choices=("upsample", "transpose"))
    kernel_size: int | None = option(None, "convolution kernel of both networks (None: "
                                     "generator 3 for upsample, 4 for transpose; "
                                     "discriminator 4)", type=int, minimum=1)
    stem_blocks: int = option(0, "stride-1 generator blocks at the base resolution after the "
                              "projection, each halving the filters (the projection is "
                              "widened to keep the later blocks; the TF tutorial's 1)",
                              minimum=0)
    loss: str = option("non_saturating", "adversarial loss", choices=ADVERSARIAL_LOSSES)
    ema_decay: float = option(0.999, "decay of the generator's exponential moving average, "
                              "used for samples, evaluation and export (Karras et al. 2018; "
                              "0: no average, the raw generator)", minimum=0)
    diff_augment: str = option("auto", "DiffAugment policy (Zhao et al. 2020): the same "
                               "differentiable transformations of real and generated images "
                               "before D; auto: color,translation,cutout for fewer than "
                               f"{SMALL_DATASET_IMAGES} training images, else none",
                               choices=("auto", *DIFF_AUGMENT_POLICIES))
    spectral_norm: bool = option(False, "spectral normalization of every discriminator layer "
                                 "instead of its batch norm (Miyato et al. 2018)")
    discriminator_batch_norm: bool = option(True, "batch norm on the discriminator's blocks "
                                            "after the first (the paper's; off in the TF "
                                            "tutorial, and with spectral norm)")
    discriminator_dropout: float = option(0.0, "dropout after each discriminator block (the "
                                          "TF tutorial's 0.3)", minimum=0)
    r1_weight: float = option(0.0, "gamma of the R1 gradient penalty on real images "
                              "(Mescheder et al. 2018; 0: none)", minimum=0)
    generator_noise: str = option("fresh", "fakes of G's update: fresh noise (Goodfellow et "
                                  "al. 2014) or reuse the batch D was just updated on, "
                                  "scored by the updated D (the PyTorch DCGAN example; one "
                                  "generator pass less per step)", choices=("fresh", "reuse"))

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        # Radford et al. 2015: transposed convolutions, Adam(2e-4, 0.5) for both networks,
        # the raw generator, no augmentation or regularisation.
        "paper": {"upsampling": "transpose", "loss": "non_saturating", "ema_decay": 0.0,
                  "diff_augment": "none", "spectral_norm": False, "r1_weight": 0.0,
                  "base_filters": 64, "learning_rate": 2e-4, "d_learning_rate": None},
        # The TensorFlow DCGAN tutorial's networks and optimizer learning rate and batch
        # (https://www.tensorflow.org/tutorials/generative/dcgan; its 28x28x1 MNIST networks
        # at --image-size 28 --channels 1): G Dense 100 -> 7*7*256, transposed convolutions
        # 5x5 256 -> 128 (stride 1), 128 -> 64, 64 -> 1; D convolutions 5x5 1 -> 64 -> 128
        # with dropout 0.3 and no batch norm, dense 6272 -> 1; Adam(1e-4) for both, batch 256.
        # The same layer shapes and cost; what still differs: ReLU in G (the tutorial's
        # LeakyReLU), G's first batch norm over the 256 channels after the reshape (the
        # tutorial's over the 12544 dense outputs before it), a bias on G's last layer (none
        # in the tutorial), LeakyReLU slope 0.2 in D (0.3), N(0, 0.02) initial weights (Glorot
        # uniform), Adam's beta_1 0.5 (0.9), and G's update scores the fakes of the step's one
        # generator pass with the updated D (the tutorial's with D before its update).
        "tf-tutorial": {"upsampling": "transpose", "kernel_size": 5, "stem_blocks": 1,
                        "base_filters": 64, "discriminator_batch_norm": False,
                        "discriminator_dropout": 0.3, "loss": "non_saturating",
                        "ema_decay": 0.0, "diff_augment": "none", "spectral_norm": False,
                        "r1_weight": 0.0, "learning_rate": 1e-4, "d_learning_rate": None,
                        "batch_size": 256, "generator_noise": "reuse"},
    }

    def validate(self) -> None:
        super().validate()
        if self.ema_decay >= 1:
            raise UserError(f"must be in [0, 1), got {self.ema_decay}", option="ema_decay")
        if self.discriminator_dropout >= 1:
            raise UserError(f"must be in [0, 1), got {self.discriminator_dropout}",
                            option="discriminator_dropout")


@dataclass(frozen=True)
class Pix2PixOptions(AppOptions):
    """pix2pix (Isola et al. 2017): segmentation (images + masks) or paired translation.

    The defaults are the settings measured best on the built-in segmentation set for a CPU
    budget (``benchmarks/quality_pix2pix.py``): a narrower, Glorot-initialised U-Net (32 base
    filters capped at 256) without dropout, the paper's jitter only for small training sets,
    G at 10x D's learning rate (the application's 2e-3 vs 2e-4), both
    decayed linearly to 5 %, instance noise on the masks D sees and, in segmentation, real
    masks scaled towards the prediction (Luc et al. 2016). ``--preset paper`` is the paper's
    recipe.
    """

    app: ClassVar[str] = "pix2pix"
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        # Isola et al. 2017, section 4 and appendix 6.1-6.2: U-Net C64..C512 with dropout 0.5,
        # 70x70 PatchGAN C64-C128-C256-C512, Adam(2e-4, 0.5) for G and D at a constant rate
        # (the paper's batch size was 1-10; ours stays 16), lambda 100, hard 0/1 labels.
        "paper": {"base_filters": 64, "max_filters": 512, "dropout": 0.5,
                  "learning_rate": 2e-4, "d_learning_rate": 2e-4, "lr_decay": "none",
                  "discriminator_filters": 64, "discriminator_layers": 3,
                  "reconstruction_weight": 100.0, "label_smoothing": 0.0,
                  "instance_noise": 0.0, "real_mask_scaling": 0.0,
                  "generator_init": "normal", "augment": True},
    }
    masks_dir: str | None = option(None, "folder of masks matching the images by name: "
                                   "single-channel or palette PNGs of class ids 0..K-1",
                                   type=str, flag="--masks", path="dir")
    aligned_dir: str | None = option(None, "folder of side-by-side A|B images: paired "
                                     "translation (facades, maps, edges2shoes format)",
                                     type=str, path="dir", source=True)
    num_classes: int | None = option(None, "K, required with masks", type=int, minimum=2)
    direction: str = option("AtoB", "aligned pairs: translate A to B or B to A",
                            choices=("AtoB", "BtoA"))
    base_filters: int = option(32, "U-Net width: filters of its first layer (the paper's 64)",
                               minimum=1)
    max_filters: int = option(256, "cap on the filters of a U-Net block (the paper's 512)",
                              minimum=1)
    discriminator_filters: int | None = option(
        None, "PatchGAN width: filters of its first layer (None: base_filters)", type=int,
        minimum=1)
    discriminator_layers: int = option(3, "PatchGAN stride-2 layers: 3 judges 70x70 patches "
                                       "(the paper's), 2 34x34, 1 16x16", minimum=1)
    reconstruction_weight: float | None = option(
        None, "lambda of the cross-entropy (segmentation) or L1 (translation) term (None: "
        "100, the paper's)", type=float, aliases=("--lambda",), minimum=0)
    adversarial_weight: float = option(1.0, "weight of the cGAN term; 0 trains the U-Net "
                                       "alone (the paper's ablation)", minimum=0)
    dropout: float = option(0.0, "U-Net decoder dropout (the paper's 0.5)", minimum=0)
    # N(0, 0.02) keeps the first layer's output (a skip into the last decoder block) and the
    # class logits small, and the U-Net sits longer on its background-only plateau: 0.54 /
    # 0.55 test mIoU after 1000 cross-entropy steps vs Glorot's 0.75 / 0.81 (seeds 0 / 1; the
    # README's pix2pix quality section).
    generator_init: str = option("glorot", "U-Net kernel initialisation: glorot (Keras's "
                                 "Glorot uniform, scaled by each layer's fan-in and fan-out) "
                                 "or normal (N(0, 0.02), the paper's)",
                                 # networks.UNET_INITIALIZERS, repeated here: config is a leaf
                                 choices=("glorot", "normal"))
    lr_decay: str = option("linear", "learning-rate schedule of G and D: linear decay over "
                           "the whole run to 5 percent of the initial rate, or none "
                           "(constant, the paper's)", choices=("linear", "none"))
    label_smoothing: float = option(0.0, "one-sided label smoothing: D's target for real "
                                    "pairs is 1 - this (Salimans et al. 2016; 0.1 gives 0.9); "
                                    "logistic losses only", minimum=0)
    # D tells (image, one-hot mask) from (image, softmax) almost perfectly within a few hundred
    # steps (d_real 0.9998, d_fake 0.0004 without a remedy). Noise on the masks it sees
    # measured +0.16 test mIoU after 2000 steps (0.72 vs 0.56; label smoothing 0.1: 0.65;
    # benchmarks/quality_pix2pix.py, one seed).
    instance_noise: float = option(0.1, "standard deviation of the Gaussian noise added to "
                                   "the targets D sees, real and generated alike (Sonderby "
                                   "et al. 2017; 0: the paper's plain targets)", minimum=0)
    # Measured +0.06 test mIoU after 2000 steps over the noise alone, on both seeds (0.595 /
    # 0.630 vs 0.480 / 0.619; benchmarks/quality_pix2pix.py, default vs no_scaling).
    real_mask_scaling: float = option(
        0.9, "segmentation only (translation ignores it): D's real masks give the true class "
        "max(TAU, its predicted probability) and the rest as predicted, so D cannot win on "
        "one-hot sharpness (Luc et al. 2016's scaling; 0: exact one-hot, the paper's)",
        minimum=0)
    # The jitter (a 1.12x upscale, random crop and mirror) slowed the U-Net's learning on the
    # 10000-pair built-in set, whose test images are never rescaled (0.46 vs 0.75 after 1000
    # steps); on its first 300 pairs the U-Net memorised them without it (0.47 vs 0.63).
    augment: bool | None = option(
        None, "the paper's random jitter and mirroring of the training pairs (default: on for "
        f"fewer than {SMALL_DATASET_IMAGES} training pairs, off for more)", type=bool)
    loss: str = option("non_saturating", "adversarial loss", choices=ADVERSARIAL_LOSSES)

    def validate(self) -> None:
        super().validate()
        if self.real_mask_scaling >= 1:
            raise UserError(f"must be in [0, 1), got {self.real_mask_scaling}",
                            option="real_mask_scaling")
        if self.dropout >= 1:
            raise UserError(f"must be in [0, 1), got {self.dropout}", option="dropout")
        if self.label_smoothing >= 1:
            raise UserError(f"must be in [0, 1), got {self.label_smoothing}",
                            option="label_smoothing")
        # the losses whose D outputs are logits (models.pix2pix.LOGISTIC_LOSSES)
        if self.label_smoothing and self.loss not in ("non_saturating", "minimax"):
            raise UserError(f"works with the logistic losses (non_saturating, minimax), not "
                            f"{{loss}} {self.loss!r}: set it to 0 or change the loss",
                            option="label_smoothing", mentions=("loss",))


@dataclass(frozen=True)
class CycleGANOptions(AppOptions):
    """CycleGAN (Zhu et al. 2017): unpaired translation between two image domains."""

    app: ClassVar[str] = "cyclegan"
    data_dir_a: str | None = option(None, "folder of your domain-A images (with the domain-B "
                                    "folder)",
                                    type=str, path="dir")
    data_dir_b: str | None = option(None, "folder of your domain-B images; the two folders "
                                    "are unpaired and may hold different numbers of images of "
                                    "any size", type=str, path="dir")
    generator: str = option("resnet", "ResNet (paper; translates any size) or the pix2pix "
                            "U-Net", choices=("resnet", "unet"))
    base_filters: int = option(32, "generator width ngf: filters of its first layer (the "
                               "paper's 64)", minimum=1)
    num_residual_blocks: int | None = option(None, "ResNet blocks (None: 9 at 256 px and "
                                             "above, else 6)", type=int, minimum=1,
                                             flag="--residual-blocks")
    upsampling: str = option("upsample", "ResNet upsampling: transposed convolutions (paper) "
                             "or nearest-neighbour upsampling + convolution (no checkerboard)",
                             choices=("transpose", "upsample"))
    generator_norm: str = option("none", "normalization of the generators: instance norm "
                                 "(paper) or none (keeps each image's absolute colours)",
                                 choices=("instance", "none"))
    discriminator_filters: int | None = option(64, "PatchGAN width ndf (None: base_filters)",
                                               type=int, minimum=1)
    lambda_cycle: float = option(10.0, "weight of the cycle-consistency loss", minimum=0)
    lambda_identity: float = option(0.5, "identity loss as a fraction of lambda_cycle (0 "
                                    "disables it)", minimum=0)
    pool_size: int = option(50, "generated images kept for the discriminators", minimum=0)
    decay_start_epoch: int | None = option(None, "epoch where the learning rate starts its "
                                           "linear decay to 0 (None: half of the epochs)",
                                           type=int, minimum=0)
    augment: bool = option(True, "random jitter (resize to 1.12x, random crop, flip)")
    loss: str = option("least_squares", "adversarial loss (LSGAN, the paper's)",
                       choices=("least_squares", "non_saturating"))

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        # Zhu et al. 2017. The defaults differ where benchmarks/quality_cyclegan.py chose:
        # ngf 32, nearest-neighbour upsampling and no instance norm in the generators.
        "paper": {"generator": "resnet", "base_filters": 64, "upsampling": "transpose",
                  "generator_norm": "instance", "discriminator_filters": 64,
                  "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50,
                  "loss": "least_squares", "learning_rate": 2e-4, "d_learning_rate": None,
                  "batch_size": 1},
    }

    def validate(self) -> None:
        super().validate()
        if (self.data_dir_a is None) != (self.data_dir_b is None):
            raise UserError("give both {data_dir_a} and {data_dir_b} (the two unpaired image "
                            "folders)", mentions=("data_dir_a", "data_dir_b"))


# --------------------------------------------------------------------------- run settings
#: TrainConfig fields that may differ when a run directory is resumed (recorded, not refused).
RESUMABLE_FIELDS = frozenset({"epochs", "sample_every", "output", "strategy", "devices", "xla",
                              "deterministic", "checkpoint_every", "checkpoints_to_keep",
                              "checkpoint_every_steps", "step_checkpoints_to_keep"})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved as ``RUN_DIR/config.json``).

    ``None`` means "the application's default" for ``batch_size``, ``epochs``,
    ``learning_rate``, ``d_learning_rate``, ``xla`` and ``options``;
    :meth:`tfgan_apps.apps.Application.resolve` fills them in, so the Python API, the CLI and
    the quickstart train with the same settings when nothing is given.

    Attributes:
        app: application: ``dcgan``, ``pix2pix`` or ``cyclegan``.
        dataset: TFDS name (``builtin``, ``mnist``, ``oxford_iiit_pet``,
            ``cycle_gan/horse2zebra``, ...); default the built-in offline set.
        data_dir: a folder of your own images instead of a TFDS dataset (pix2pix: the images
            whose masks are in ``options.masks_dir``).
        image_size: model resolution S (default: the dataset's own; 64 for DCGAN folders).
        batch_size: global batch size, split across replicas (default: the application's:
            DCGAN 64, pix2pix 16, CycleGAN 1).
        epochs: number of epochs (default the application's: 5; pix2pix 9, which its
            defaults need to reach 0.90 test mIoU on the built-in set).
        steps_per_epoch: steps per epoch (default: one pass over the data).
        learning_rate: Adam learning rate of the generator(s), and of the discriminator(s)
            unless ``d_learning_rate`` is given (beta_1 0.5, the papers'; default the
            application's: 2e-4, the papers').
        d_learning_rate: the discriminators' own learning rate (two time-scale updates,
            Heusel et al. 2017); None: ``learning_rate``.
        output: run directory (default ``runs/<app>-<timestamp>``); an existing one resumes.
        seed: seed of weights, data order and training noise.
        strategy: ``default`` (one device), ``auto`` (``mirrored`` with several GPUs), ``mirrored``
            (all GPUs, or ``devices``) or ``multiworker`` (the machines of ``TF_CONFIG``).
        devices: devices for ``mirrored`` (e.g. ``("/gpu:0", "/gpu:1")``).
        xla: True/False forces XLA; None: on for GPU replicas, off on CPUs (oneDNN measured
            1.04-1.9x faster than XLA on CPU for every application, TF 2.21).
        deterministic: deterministic ops and data order (slower).
        precision: ``fp32``; ``bf16`` (Keras's ``mixed_bfloat16`` policy) or ``fp16``
            (``mixed_float16``, each optimizer in a dynamic ``LossScaleOptimizer``):
            the networks compute in 16 bits, their variables, last layers, losses and
            metrics stay float32. Fixed for a run directory (a resume keeps it).
        sample_every: epochs between sample grids.
        checkpoint_every: epochs between checkpoints of the training state (the last epoch is
            always checkpointed; a crash replays the epochs since the last one).
        checkpoints_to_keep: how many epoch checkpoints are kept.
        checkpoint_every_steps: train steps between step checkpoints inside an epoch (None:
            none); a crash then resumes mid-epoch, exactly (needs a known epoch length).
        step_checkpoints_to_keep: how many step checkpoints are kept.
        preset: ``"default"`` (the option defaults: the settings measured best) or a named
            preset of the application (``"paper"``: the paper's recipe); explicitly given
            settings override the preset's.
        options: the application's options (default its :class:`AppOptions` subclass's
            defaults).
    """

    app: str = "dcgan"
    dataset: str | None = None
    data_dir: str | None = None
    image_size: int | None = None
    batch_size: int | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    learning_rate: float | None = None
    d_learning_rate: float | None = None
    output: str | None = None
    seed: int = 0
    strategy: str = "default"
    devices: tuple[str, ...] | None = None
    xla: bool | None = None
    deterministic: bool = False
    precision: str = "fp32"
    sample_every: int = 1
    checkpoint_every: int = 1
    checkpoints_to_keep: int = 2
    checkpoint_every_steps: int | None = None
    step_checkpoints_to_keep: int = 1
    preset: str = DEFAULT_PRESET
    options: AppOptions | None = None

    def __post_init__(self) -> None:
        # JSON gives lists and dicts: the devices tuple and the application's options class.
        if self.devices is not None and not isinstance(self.devices, tuple):
            object.__setattr__(self, "devices", tuple(self.devices))
        if isinstance(self.options, Mapping):
            object.__setattr__(self, "options",
                               AppOptions.for_app(self.app).from_json(self.options))

    @classmethod
    def create(cls, app: str, **settings: Any) -> TrainConfig:
        """A config from flat keyword settings: run settings and the application's options
        mixed (``TrainConfig.create("dcgan", epochs=2, latent_dim=8)``), over the settings of
        ``preset`` when one is given (``create("pix2pix", preset="paper", epochs=20)``).

        Raises:
            UserError: a key is neither a run setting nor an option of ``app`` (the message
                lists the accepted ones), or ``app`` is unknown.
        """
        options_class = AppOptions.for_app(app)
        preset = settings.get("preset") or DEFAULT_PRESET
        settings = {**options_class.preset_settings(preset), **settings}
        run_fields = {f.name for f in dataclasses.fields(cls)} - {"app", "options"}
        option_fields = {f.name for f in dataclasses.fields(options_class)}
        unknown = sorted(set(settings) - run_fields - option_fields)
        if unknown:
            raise UserError(f"unknown option(s) {unknown} for {app}; accepted: "
                            f"{sorted(run_fields | option_fields)}")
        options = options_class(**{k: v for k, v in settings.items() if k in option_fields})
        return cls(app=app, options=options,
                   **{k: v for k, v in settings.items() if k in run_fields})

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with run settings and/or application options changed (flat keywords, as
        :meth:`create`)."""
        options = self.options or AppOptions.for_app(self.app)()
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if f.name not in ("app", "options")}
        return TrainConfig.create(self.app, **{**settings, **options.to_json(), **changes})

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad value and how to fix it."""
        options_class = AppOptions.for_app(self.app)
        if self.options is not None and not isinstance(self.options, options_class):
            raise UserError(f"options of {self.app} must be a {options_class.__name__}, got "
                            f"{type(self.options).__name__}", option="options")
        for name in ("batch_size", "epochs", "sample_every", "steps_per_epoch", "image_size",
                     "checkpoint_every", "checkpoints_to_keep", "checkpoint_every_steps",
                     "step_checkpoints_to_keep"):
            _check_number(name, getattr(self, name), int, 1)
        _check_number("seed", self.seed, int, 0)
        for name in ("learning_rate", "d_learning_rate"):
            _check_number(name, getattr(self, name), float, 0, strict=True)
        options_class.preset_settings(self.preset)  # an unknown preset names the known ones
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of "
                            f"{list(PRECISIONS)}", option="precision")
        if self.strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {self.strategy!r}; choose one of "
                            f"{list(STRATEGIES)}", option="strategy")
        if self.dataset and self.data_dir:
            raise UserError("give either a dataset name or a data directory, not both",
                            option="data_dir")
        if self.data_dir is not None:
            check_folder("data_dir", self.data_dir)
        if self.output is not None and os.path.exists(self.output) and not os.path.isdir(
                self.output):
            raise UserError(f"{self.output} is a file, not a run directory: choose another "
                            "output directory", option="output")
        if self.options is not None:
            self.options.validate()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_json` reads it back to an equal config."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["devices"] = list(self.devices) if self.devices is not None else None
        data["options"] = self.options.to_json() if self.options is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The config of a :meth:`to_json` dict.

        Raises:
            UserError: an unknown key (in the run settings or the options), naming the
                accepted ones.
        """
        return _from_mapping(cls, data, "run")  # __post_init__ reads the options dict
