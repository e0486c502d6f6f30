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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def add_common_train_flags(parser: argparse.ArgumentParser) -> None:
    """Flags every ``train`` subcommand shares (DCGAN, pix2pix, CycleGAN)."""
    parser.add_argument("--image-size", type=_positive_int, help="model resolution S")
    parser.add_argument("--batch-size", type=_positive_int, default=64,
                        help="global batch size (default 64)")
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
    print(f"export it with: {PROG} export {result.run_dir}")
    return 0


def _dcgan_config(args: argparse.Namespace) -> dict:
    _check_existing_dir(args.data_dir, "--data-dir")
    return {"app": "dcgan", "dataset": args.dataset, "data_dir": args.data_dir,
            "channels": args.channels, "latent_dim": args.latent_dim, "loss": args.loss,
            **_common_config_kwargs(args)}


def _add_train_dcgan(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("dcgan", help="image generation with DCGAN")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="TFDS name: builtin (default), mnist, fashion_mnist, "
                        "cifar10, celeb_a, tfgan_shapes/generation_64, ...")
    source.add_argument("--data-dir", help="a folder of your own images (jpg/png/bmp/gif)")
    p.add_argument("--channels", type=int, choices=[1, 3],
                   help="1 grayscale or 3 RGB (default: the dataset's own)")
    p.add_argument("--latent-dim", type=_positive_int, default=100)
    p.add_argument("--loss", choices=["non_saturating", "minimax", "least_squares"],
                   default="non_saturating")
    add_common_train_flags(p)
    p.set_defaults(func=_run_train, make_config=_dcgan_config)


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
TRAIN_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_train_dcgan]
#: further top-level subcommands (e.g. ``segment``, ``translate``).
EXTRA_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


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
