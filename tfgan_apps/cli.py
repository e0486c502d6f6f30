"""``tfgan-apps`` command line: parses arguments and calls the library.

User errors (bad flag values, missing paths, unknown datasets, unreadable models) print one
line to stderr and exit with status 2, without a traceback (set ``TFGAN_APPS_DEBUG=1`` to see
the traceback instead).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

PROG = "tfgan-apps"


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        raise UserError(f"{self.prog}: {message} (see --help)")


def _checked_number(convert: Callable[[str], float], accept: Callable[[float], bool],
                    expected: str) -> Callable[[str], float]:
    """An argparse ``type`` that converts, then rejects values ``accept`` refuses."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


_positive_int = _checked_number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _checked_number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _checked_number(float, lambda v: v > 0, "a positive number")


def add_common_train_flags(parser: argparse.ArgumentParser) -> None:
    """Flags every ``train`` subcommand shares (DCGAN, pix2pix, CycleGAN)."""
    parser.add_argument("--image-size", type=_positive_int, help="model resolution S")
    parser.add_argument("--batch-size", type=_positive_int, default=64,
                        help="global batch size (default %(default)s)")
    parser.add_argument("--epochs", type=_positive_int, default=5)
    parser.add_argument("--steps-per-epoch", type=_positive_int,
                        help="steps per epoch (default: one pass over the data)")
    parser.add_argument("--base-filters", type=_positive_int, default=64,
                        help="network width (64 in the papers)")
    parser.add_argument("--learning-rate", type=_positive_float, default=2e-4)
    parser.add_argument("--output", help="run directory (default runs/<app>-<timestamp>); "
                        "re-running with the same directory resumes an interrupted run")
    parser.add_argument("--seed", type=_non_negative_int, default=0)
    parser.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                        help="mirrored: synchronous data parallelism over all GPUs "
                        "(or --devices)")
    parser.add_argument("--devices", nargs="+", help="devices for --strategy mirrored")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                        help="compile the train step with XLA (default: on for one device)")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic ops and data order (slower)")
    parser.add_argument("--sample-every", type=_positive_int, default=1,
                        help="epochs between sample grids")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _common_config_kwargs(args: argparse.Namespace) -> dict:
    return {
        "image_size": args.image_size, "batch_size": args.batch_size, "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch, "base_filters": args.base_filters,
        "learning_rate": args.learning_rate, "output": args.output, "seed": args.seed,
        "strategy": args.strategy, "devices": args.devices, "xla": args.xla,
        "deterministic": args.deterministic, "sample_every": args.sample_every,
    }


def _check_existing_dir(path: str | None, flag: str) -> None:
    if path is not None and not os.path.isdir(path):
        raise FileNotFoundError(f"{flag} {path}: no such directory")


def _run_train(args: argparse.Namespace) -> int:
    from tfgan_apps.training import TrainConfig, train

    config = TrainConfig(**args.make_config(args))
    result = train(config, verbose=0 if args.quiet else "auto")
    print(f"run directory: {result.run_dir}")
    print(f"  model:        {result.model_path}")
    print(f"  samples:      {result.samples_dir}/")
    print(f"  loss curves:  {os.path.join(result.run_dir, 'loss_curves.png')}")
    if result.evaluation:
        print(f"  evaluation:   {os.path.join(result.run_dir, 'evaluation.json')}")
        for line in _format_evaluation(result.evaluation):
            print(f"    {line}")
    print(f"export it with: {PROG} export {result.run_dir}")
    return 0


def _format_evaluation(evaluation: dict) -> list[str]:
    """Readable lines of a run's ``evaluation.json`` (per-class IoU as a small table)."""
    lines = [f"{evaluation.get('split', 'validation')} split:"]
    for key in ("mean_iou", "pixel_accuracy", "l1_loss"):
        if key in evaluation:
            lines.append(f"  {key:<16}{evaluation[key]:.4f}")
    per_class = evaluation.get("per_class_iou") or {}
    if per_class:
        lines.append("  IoU per class:")
        width = max(len(name) for name in per_class)
        for name, value in per_class.items():
            shown = "n/a (absent)" if value is None else f"{value:.4f}"
            lines.append(f"    {name:<{width}}  {shown}")
    return lines


def _dcgan_config(args: argparse.Namespace) -> dict:
    _check_existing_dir(args.data_dir, "--data-dir")
    return {"app": "dcgan", "dataset": args.dataset, "data_dir": args.data_dir,
            "channels": args.channels, "latent_dim": args.latent_dim, "loss": args.loss,
            "extra": {"upsampling": args.upsampling}, **_common_config_kwargs(args)}


def _add_train_dcgan(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("dcgan", help="image generation with DCGAN")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="TFDS name: builtin (default), mnist, fashion_mnist, "
                        "cifar10, celeb_a, tfgan_shapes/generation_64, ...")
    source.add_argument("--data-dir", help="a folder of your own images (jpg/png/bmp/gif)")
    p.add_argument("--channels", type=int, choices=[1, 3],
                   help="1 grayscale or 3 RGB (default: the dataset's own)")
    p.add_argument("--latent-dim", type=_positive_int, default=100)
    p.add_argument("--upsampling", choices=["upsample", "transpose"], default="upsample",
                   help="generator blocks: nearest upsampling + 3x3 conv (default, fewer "
                   "checkerboard artifacts) or the paper's transposed convolutions")
    p.add_argument("--loss", choices=["non_saturating", "minimax", "least_squares"],
                   default="non_saturating")
    add_common_train_flags(p)
    p.set_defaults(func=_run_train, make_config=_dcgan_config)


def _pix2pix_config(args: argparse.Namespace) -> dict:
    _check_existing_dir(args.images, "--images")
    _check_existing_dir(args.masks, "--masks")
    _check_existing_dir(args.aligned_dir, "--aligned-dir")
    extra = {"masks_dir": args.masks, "aligned_dir": args.aligned_dir,
             "num_classes": args.num_classes, "direction": args.direction,
             "reconstruction_weight": args.reconstruction_weight,
             "adversarial_weight": args.adversarial_weight, "dropout": args.dropout,
             "augment": not args.no_augment}
    return {"app": "pix2pix", "dataset": args.dataset, "data_dir": args.images,
            "loss": args.loss, "extra": extra, **_common_config_kwargs(args)}


def _add_train_pix2pix(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("pix2pix", help="segmentation (or paired translation) with pix2pix")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="TFDS segmentation set: builtin (default, 4 classes) "
                        "or oxford_iiit_pet (0 background, 1 pet, 2 border)")
    source.add_argument("--images", help="folder of your images (with --masks)")
    source.add_argument("--aligned-dir", help="folder of side-by-side A|B images: paired "
                        "translation (facades, maps, edges2shoes format)")
    p.add_argument("--masks", help="folder of masks matching --images by name: single-channel "
                   "or palette PNGs holding class ids 0..K-1")
    p.add_argument("--num-classes", type=_positive_int, help="K, required with --masks")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB",
                   help="with --aligned-dir: translate A to B (default) or B to A")
    p.add_argument("--reconstruction-weight", "--lambda", type=float, default=None,
                   help="lambda of the cross-entropy (segmentation) or L1 (translation) term "
                   "(default 100, the paper's)")
    p.add_argument("--adversarial-weight", type=float, default=1.0,
                   help="weight of the cGAN term; 0 trains the U-Net alone (the paper's "
                   "ablation)")
    p.add_argument("--dropout", type=float, default=0.5, help="U-Net decoder dropout")
    p.add_argument("--no-augment", action="store_true",
                   help="no random jitter and mirroring")
    p.add_argument("--loss", choices=["non_saturating", "minimax", "least_squares"],
                   default="non_saturating")
    add_common_train_flags(p)
    # XLA off unless asked: measured 2.4-3.3x slower than oneDNN for the U-Net on CPU (TF 2.21).
    p.set_defaults(func=_run_train, make_config=_pix2pix_config, batch_size=16, xla=False)


def _run_segment(args: argparse.Namespace) -> int:
    from tfgan_apps.segment import segment_paths

    written = segment_paths(args.model_dir, args.input, args.output, overlay=args.overlay)
    print(f"wrote {len(written)} mask(s)")
    return 0


def _add_segment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segment images with an exported pix2pix model")
    p.add_argument("model_dir", help="saved_models/pix2pix or saved_models/pix2pix/VERSION")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("output", help="mask file (indexed PNG) for a file, folder for a folder")
    p.add_argument("--overlay", action="store_true",
                   help="also write NAME_overlay.png, the image with the coloured mask")
    p.set_defaults(func=_run_segment)


def _cyclegan_config(args: argparse.Namespace) -> dict:
    _check_existing_dir(args.data_dir_a, "--data-dir-a")
    _check_existing_dir(args.data_dir_b, "--data-dir-b")
    if (args.data_dir_a is None) != (args.data_dir_b is None):
        raise UserError(f"{PROG} train cyclegan: give both --data-dir-a and --data-dir-b "
                        "(the two unpaired image folders)")
    if args.dataset and args.data_dir_a:
        raise UserError(f"{PROG} train cyclegan: give either --dataset or the two folders "
                        "--data-dir-a/--data-dir-b, not both")
    extra = {"data_dir_a": args.data_dir_a, "data_dir_b": args.data_dir_b,
             "generator": args.generator, "residual_blocks": args.residual_blocks,
             "upsampling": args.upsampling,
             "discriminator_filters": args.discriminator_filters,
             "lambda_cycle": args.lambda_cycle, "lambda_identity": args.lambda_identity,
             "pool_size": args.pool_size, "decay_start_epoch": args.decay_start_epoch,
             "augment": not args.no_augment}
    return {"app": "cyclegan", "dataset": args.dataset, "loss": args.loss, "extra": extra,
            **_common_config_kwargs(args)}


def _add_train_cyclegan(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("cyclegan", help="unpaired style transfer with CycleGAN")
    p.add_argument("--dataset", help="builtin (default: tfgan_shapes/style, day/night scenes) "
                   "or cycle_gan/<config>: horse2zebra, monet2photo, vangogh2photo, ...")
    p.add_argument("--data-dir-a", help="folder of your domain-A images (with --data-dir-b)")
    p.add_argument("--data-dir-b", help="folder of your domain-B images; the two folders are "
                   "unpaired and may hold different numbers of images of any size")
    p.add_argument("--generator", choices=["resnet", "unet"], default="resnet",
                   help="ResNet (paper; translates any size) or the pix2pix U-Net")
    p.add_argument("--residual-blocks", type=_positive_int,
                   help="ResNet blocks (default 9 at 256 px and above, else 6)")
    p.add_argument("--upsampling", choices=["transpose", "upsample"], default="transpose",
                   help="ResNet upsampling: transposed convolutions (paper) or nearest-neighbour "
                   "upsampling + convolution (no checkerboard artifacts)")
    p.add_argument("--discriminator-filters", type=_positive_int,
                   help="PatchGAN width (default: --base-filters)")
    p.add_argument("--lambda-cycle", type=float, default=10.0,
                   help="weight of the cycle-consistency loss (default 10)")
    p.add_argument("--lambda-identity", type=float, default=0.5,
                   help="identity loss as a fraction of --lambda-cycle (default 0.5; 0 "
                   "disables it)")
    p.add_argument("--pool-size", type=_non_negative_int, default=50,
                   help="generated images kept for the discriminators (default 50)")
    p.add_argument("--decay-start-epoch", type=_non_negative_int,
                   help="epoch where the learning rate starts its linear decay to 0 "
                   "(default: half of --epochs)")
    p.add_argument("--no-augment", action="store_true",
                   help="no random jitter (resize to 1.12x, random crop, flip)")
    p.add_argument("--loss", choices=["least_squares", "non_saturating"],
                   default="least_squares", help="adversarial loss (default LSGAN, the paper's)")
    add_common_train_flags(p)
    p.set_defaults(func=_run_train, make_config=_cyclegan_config, batch_size=1)


def _run_translate(args: argparse.Namespace) -> int:
    from tfgan_apps.translate import translate_paths

    written = translate_paths(args.model_dir, args.input, args.output,
                              direction=args.direction, tile=args.tile)
    print(f"wrote {len(written)} image(s)")
    return 0


def _add_translate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="style images with a trained CycleGAN (any size)")
    p.add_argument("model_dir", help="saved_models/cyclegan[/VERSION] or a training run "
                   "directory")
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("output", help="output PNG for a file, output folder for a folder")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b")
    p.add_argument("--tile", type=_positive_int,
                   help="translate in N x N tiles (multiple of 4) with blended seams, for "
                   "photos too large for memory")
    p.set_defaults(func=_run_translate)


def _run_export(args: argparse.Namespace) -> int:
    from tfgan_apps.export import export_run

    path = export_run(args.run_dir, export_dir=args.export_dir, name=args.name,
                      version=args.version)
    print(f"exported SavedModel: {path}")
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    from tfgan_apps.serving import generate_images
    from tfgan_apps.visualize import save_image_grid

    images = generate_images(args.model_dir, args.num, seed=args.seed)
    print(f"wrote {save_image_grid(images, args.output)} ({args.num} images)")
    return 0


def _run_quickstart(args: argparse.Namespace) -> int:
    from tfgan_apps.quickstart import quickstart

    quickstart(args.apps, runs_root=args.runs_root, export_dir=args.export_dir,
               epochs_scale=args.budget_scale)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``tfgan-apps`` argument parser (subcommands train, export, generate, quickstart)."""
    parser = _Parser(prog=PROG, description="DCGAN, CycleGAN and pix2pix on Keras 3 / TF.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train_parser = sub.add_parser("train", help="train an application")
    train_sub = train_parser.add_subparsers(dest="app", required=True, parser_class=_Parser)
    for add in TRAIN_SUBCOMMANDS:
        add(train_sub)

    p = sub.add_parser("export", help="export a run to a versioned SavedModel for TF Serving")
    p.add_argument("run_dir")
    p.add_argument("--name", help="model name (default: the application, e.g. dcgan)")
    p.add_argument("--version", type=_positive_int, help="default: next free integer")
    p.add_argument("--export-dir", default="saved_models")
    p.set_defaults(func=_run_export)

    p = sub.add_parser("generate", help="sample an image grid from an exported DCGAN")
    p.add_argument("model_dir", help="saved_models/dcgan or saved_models/dcgan/VERSION")
    p.add_argument("--num", type=_positive_int, default=64)
    p.add_argument("--output", default="grid.png")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.set_defaults(func=_run_generate)

    p = sub.add_parser("quickstart", help="train every application briefly on the built-in "
                       "dataset, write pictures and export SavedModels")
    p.add_argument("--apps", nargs="+", help="subset of the applications (default all)")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--export-dir", default="saved_models")
    p.add_argument("--budget-scale", type=_positive_float, default=1.0,
                   help="scale every training budget (e.g. 0.1 for a smoke run)")
    p.set_defaults(func=_run_quickstart)

    for add in EXTRA_SUBCOMMANDS:
        add(sub)
    return parser


#: ``train`` subcommands, one adder per application.
TRAIN_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_train_dcgan, _add_train_pix2pix, _add_train_cyclegan]
#: further top-level subcommands (e.g. ``segment``, ``translate``).
EXTRA_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_segment, _add_translate]


def _user_errors() -> tuple[type[BaseException], ...]:
    import tensorflow as tf

    return (UserError, ValueError, FileNotFoundError, NotADirectoryError, PermissionError,
            tf.errors.InvalidArgumentError, tf.errors.NotFoundError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfgan-apps`` console script; returns the exit status."""
    import tensorflow as tf

    from tfgan_apps import quiet_stderr

    with quiet_stderr():
        tf.config.list_physical_devices()  # CUDA probing chatter, not the user's business
    try:
        args = build_parser().parse_args(argv)
    except UserError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except _user_errors() as error:
        if os.environ.get("TFGAN_APPS_DEBUG"):
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
