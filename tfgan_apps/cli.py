"""``tfgan-apps`` command line: parses arguments and calls the library.

User errors (:class:`tfgan_apps.errors.UserError`: bad flag values, missing paths, unknown
datasets, unreadable models, raised where the library checks them; and the file system refusing
a path: missing, no permission, disk full) print one line to stderr and exit with status 2,
without a traceback (``TFGAN_APPS_DEBUG=1`` shows it). Anything else is a bug and keeps its
traceback. The train subcommands and their flags are generated from
:data:`tfgan_apps.apps.APPLICATIONS` and the option dataclasses of :mod:`tfgan_apps.config`.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence

from tfgan_apps.apps import APPLICATIONS, Application
from tfgan_apps.config import PRECISIONS, PRESET_SUMMARIES, STRATEGIES, TrainConfig
from tfgan_apps.errors import UserError

PROG = "tfgan-apps"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        raise UserError(f"{message} (see {self.prog} --help)")


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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(value: object) -> str:
    return "" if value is None else f" (default {value})"


def _add_common_train_flags(parser: argparse.ArgumentParser, application: Application) -> None:
    """Flags every ``train`` subcommand shares, with the application's defaults shown."""
    defaults = application.default_config()
    parser.add_argument("--image-size", type=_positive_int,
                        help="model resolution S (default: the dataset's own)")
    parser.add_argument("--batch-size", type=_positive_int,
                        help=f"global batch size{_default_text(defaults.batch_size)}")
    parser.add_argument("--epochs", type=_positive_int,
                        help=f"number of epochs{_default_text(defaults.epochs)}")
    parser.add_argument("--steps-per-epoch", type=_positive_int,
                        help="steps per epoch (default: one pass over the data)")
    parser.add_argument("--learning-rate", type=_positive_float,
                        help=f"Adam learning rate{_default_text(defaults.learning_rate)}")
    parser.add_argument("--d-learning-rate", type=_positive_float,
                        help="the discriminators' own Adam learning rate (two time-scale "
                        "updates; default: --learning-rate)")
    presets = application.options_class.preset_names()
    described = "; ".join(f"{name}: {PRESET_SUMMARIES.get(name, name)}" for name in presets)
    parser.add_argument("--preset", choices=list(presets),
                        help=f"{described}. Flags given override the preset (default default)")
    parser.add_argument("--output", help="run directory (default runs/<app>-<timestamp>); "
                        "re-running with the same directory resumes an interrupted run")
    parser.add_argument("--seed", type=_non_negative_int,
                        help=f"seed of weights, data and noise{_default_text(defaults.seed)}")
    parser.add_argument("--strategy", choices=list(STRATEGIES),
                        help="default: one device; auto: mirrored when several GPUs are "
                        "visible; mirrored: synchronous data parallelism over all GPUs (or "
                        "--devices); multiworker: MultiWorkerMirroredStrategy over the machines "
                        "in TF_CONFIG (only worker 0 / the chief writes --output). --batch-size "
                        "is the global batch, split over all replicas")
    parser.add_argument("--devices", nargs="+", help="devices for --strategy mirrored")
    xla = {None: "on for GPUs, off on CPUs, where oneDNN measured faster", True: "on",
           False: "off"}[defaults.xla]
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction,
                        help=f"compile the train step with XLA (default: {xla})")
    parser.add_argument("--deterministic", action="store_true", default=None,
                        help="deterministic ops and data order (slower)")
    parser.add_argument("--precision", choices=list(PRECISIONS),
                        help="bf16: networks compute in bfloat16 (mixed_bfloat16), fp16: in "
                        "float16 with dynamic loss scaling (mixed_float16); variables, last "
                        "layers, losses and exports stay float32. Fixed for a run directory "
                        f"{_default_text(defaults.precision)}")
    parser.add_argument("--sample-every", type=_positive_int,
                        help=f"epochs between sample grids{_default_text(defaults.sample_every)}")
    parser.add_argument("--checkpoint-every", type=_positive_int,
                        help="epochs between checkpoints of the training state (the last is "
                        f"always saved){_default_text(defaults.checkpoint_every)}")
    parser.add_argument("--checkpoints-to-keep", type=_positive_int,
                        help="epoch checkpoints kept"
                        f"{_default_text(defaults.checkpoints_to_keep)}")
    parser.add_argument("--checkpoint-every-steps", type=_positive_int, metavar="N",
                        help="also checkpoint every N train steps inside an epoch, so a crash "
                        "resumes mid-epoch (default: only at epoch ends)")
    parser.add_argument("--step-checkpoints-to-keep", type=_positive_int, metavar="K",
                        help="step checkpoints kept"
                        f"{_default_text(defaults.step_checkpoints_to_keep)}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_option_flag(parser: argparse.ArgumentParser | argparse._ActionsContainer,
                     option: dataclasses.Field) -> str:
    """One flag from an option field's metadata (see :func:`tfgan_apps.config.option`)."""
    meta = option.metadata
    flag = meta.get("flag") or _flag(option.name)
    kwargs: dict = {"dest": option.name, "default": None,
                    "help": meta["help"] + _default_text(option.default)}
    kind = meta.get("type") or type(option.default)
    if meta.get("path"):
        kwargs["metavar"] = "DIR"
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif "choices" in meta:
        kwargs["choices"] = list(meta["choices"])
        kwargs["type"] = kind
    elif kind is int:
        kwargs["type"] = _non_negative_int if meta.get("minimum") == 0 else _positive_int
    elif kind is float:
        kwargs["type"] = _checked_number(float, lambda v: v >= 0 and v != float("inf"),
                                         "a number >= 0")
    parser.add_argument(flag, *meta.get("aliases", ()), **kwargs)
    return flag


def _add_train_subcommand(train_sub: argparse._SubParsersAction,
                          application: Application) -> None:
    """``train APP``: the data source flags, the application's option flags (generated from
    its options dataclass) and the common flags."""
    p = train_sub.add_parser(application.name, help=application.description,
                             description=application.description)
    flags = {"data_dir": application.data_dir_flag}
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", help=application.dataset_help)
    if application.data_dir_flag:
        source.add_argument(application.data_dir_flag, dest="data_dir", metavar="DIR",
                            help=application.data_dir_help)
    for option in dataclasses.fields(application.options_class):
        container = source if option.metadata.get("source") else p
        flags[option.name] = _add_option_flag(container, option)
    _add_common_train_flags(p, application)
    p.set_defaults(func=_run_train, application=application, flags=flags)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of a parsed ``train APP`` command line: what was given, and the
    application's defaults for the rest (the same as the Python API's)."""
    application: Application = args.application
    names = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("app", "options")]
    names += [f.name for f in dataclasses.fields(application.options_class)]
    given = {name: getattr(args, name) for name in names
             if getattr(args, name, None) is not None}
    return application.resolve(TrainConfig.create(application.name, **given))


def _run_train(args: argparse.Namespace) -> int:
    from tfgan_apps.apps import train

    result = train(config_from_args(args), verbose=0 if args.quiet else "auto")
    print(f"run directory: {result.run_dir}")
    print(f"  model:        {result.model_path}")
    print(f"  samples:      {result.samples_dir}/")
    print(f"  loss curves:  {os.path.join(result.run_dir, 'loss_curves.png')}")
    print(f"  report:       {os.path.join(result.run_dir, 'report.html')}")
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


def _run_translate(args: argparse.Namespace) -> int:
    from tfgan_apps.translate import translate_paths

    written = translate_paths(args.model_dir, args.input, args.output,
                              direction=args.direction, tile=args.tile,
                              max_pixels=args.max_pixels)
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
                   help="translate in N x N tiles (multiple of 4) with blended seams, "
                   "streamed a band of N rows at a time (default: whole, or 512-pixel tiles "
                   "when an image would need more than 2 GiB whole)")
    p.add_argument("--max-pixels", type=_positive_int,
                   help="refuse images of more pixels (width x height, read from their header "
                   "before decoding; default 2**28 = 268435456, e.g. 16384 x 16384)")
    p.set_defaults(func=_run_translate)


def _versions_list(text: str) -> list[int]:
    """An argparse ``type``: ``"1,3"`` -> ``[1, 3]`` (positive integers)."""
    try:
        versions = [int(part) for part in text.split(",")]
    except ValueError:
        versions = []
    if not versions or min(versions) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas "
                                         f"(e.g. 1,3), got {text!r}")
    return versions


def _run_serving_config(args: argparse.Namespace) -> int:
    from tfgan_apps.serving import docker_command, served_models, write_models_config

    policy = args.latest if args.latest is not None else args.versions
    path = write_models_config(args.export_dir, version_policy=policy)
    print(f"wrote {path} ({', '.join(served_models(args.export_dir))})")
    print("serve it with TF Serving (gRPC on 8500, REST on 8501):")
    print(f"  {docker_command(args.export_dir, path)}")
    return 0


def _add_serving_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serving-config", help="write EXPORT_DIR/models.config for TF Serving "
                       "and print the docker command that serves it")
    p.add_argument("--export-dir", default="saved_models",
                   help="the exports (NAME/VERSION/) to serve (default %(default)s)")
    policy = p.add_mutually_exclusive_group()
    policy.add_argument("--latest", type=_positive_int, metavar="N",
                        help="serve the latest N versions of each model (default: the latest)")
    policy.add_argument("--versions", type=_versions_list, metavar="V1,V2",
                        help="serve exactly these versions of each model")
    p.set_defaults(func=_run_serving_config)


def _run_predict(args: argparse.Namespace) -> int:
    from tfgan_apps.serving import predict_file

    path, signature = predict_file(args.server, args.model, args.input, args.output,
                                   signature=args.signature, version=args.version,
                                   use_grpc=args.grpc, timeout=args.timeout)
    print(f"wrote {path} (model {args.model}, signature {signature})")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="send an image (DCGAN: a seed or noise) to a TF "
                       "Serving model and write the PNG it returns")
    p.add_argument("model", help="the model name on the server (e.g. pix2pix)")
    p.add_argument("input", help="an image file; for a DCGAN a seed integer (the noise of "
                   "`generate --num 1 --seed N`) or a .npy file of latent_dim floats")
    p.add_argument("output", help="the PNG to write (segmentation: the class-id mask)")
    p.add_argument("--server", help="REST URL (default http://localhost:8501) or with --grpc "
                   "HOST:PORT (default localhost:8500)")
    p.add_argument("--grpc", action="store_true", help="use the gRPC API instead of REST")
    p.add_argument("--signature", help="signature to call (default: the one taking INPUT's "
                   "kind and returning a PNG; cyclegan: a2b_image_bytes)")
    p.add_argument("--version", type=_positive_int, help="model version (default: the latest "
                   "the server has loaded)")
    p.add_argument("--timeout", type=_positive_float, default=60.0,
                   help="seconds to wait for the server (default %(default)s)")
    p.set_defaults(func=_run_predict)


def _run_report(args: argparse.Namespace) -> int:
    from tfgan_apps.report import write_report

    print(f"wrote {write_report(args.run_dir)}")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write RUN_DIR/report.html: the run's options, final "
                       "metrics, curves and every epoch's sample grid on one static page")
    p.add_argument("run_dir", help="a training run directory (the --output of a train run)")
    p.set_defaults(func=_run_report)


def _run_export(args: argparse.Namespace) -> int:
    from tfgan_apps.apps import export_run

    path = export_run(args.run_dir, export_dir=args.export_dir, name=args.name,
                      version=args.version, max_pixels=args.max_pixels)
    print(f"exported SavedModel: {path}")
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    from tfgan_apps.saved_models import generate_images
    from tfgan_apps.visualize import save_image_grid

    images = generate_images(args.model_dir, args.num, seed=args.seed)
    print(f"wrote {save_image_grid(images, args.output)} ({args.num} images)")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from tfgan_apps.evaluate import evaluate_run

    report = evaluate_run(args.run_dir, dataset=args.dataset, data_dir=args.data_dir,
                          num=args.num, features=args.features, batch_size=args.batch_size,
                          seed=args.seed)
    print(json.dumps(report, indent=2, sort_keys=True))
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
    for application in APPLICATIONS.values():
        _add_train_subcommand(train_sub, application)

    p = sub.add_parser("export", help="export a run to a versioned SavedModel for TF Serving")
    p.add_argument("run_dir")
    p.add_argument("--name", help="model name (default: the application, e.g. dcgan)")
    p.add_argument("--version", type=_positive_int, help="default: next free integer")
    p.add_argument("--export-dir", default="saved_models")
    p.add_argument("--max-pixels", type=_positive_int,
                   help="refuse image files of more pixels (width x height, read from their "
                   "header) in the *_image_bytes signatures (default: the application's, "
                   "sized for 4 GiB per request; pix2pix and cyclegan only)")
    p.set_defaults(func=_run_export)

    p = sub.add_parser("generate", help="sample an image grid from an exported DCGAN")
    p.add_argument("model_dir", help="saved_models/dcgan or saved_models/dcgan/VERSION")
    p.add_argument("--num", type=_positive_int, default=64)
    p.add_argument("--output", default="grid.png")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.set_defaults(func=_run_generate)

    p = sub.add_parser("evaluate", help="FID/KID of a DCGAN run against real images, or a "
                       "pix2pix run's validation mIoU; prints JSON")
    p.add_argument("run_dir")
    p.add_argument("--dataset", help="DCGAN: TFDS name of the real images (default: the run's)")
    p.add_argument("--data-dir", help="DCGAN: a folder of real images instead")
    p.add_argument("--num", type=_positive_int, default=2000,
                   help="DCGAN: images of each set (default %(default)s)")
    p.add_argument("--features", default="inception",
                   help="DCGAN: 'inception' (InceptionV3 weights from the Keras cache), the "
                   "original FID graph (classify_image_graph_def.pb) or a .keras feature model "
                   "(default %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=50)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.set_defaults(func=_run_evaluate)

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


#: further top-level subcommands (e.g. ``segment``, ``translate``).
EXTRA_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_segment, _add_translate, _add_serving_config, _add_predict, _add_report]


_USER_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS,
                          errno.EISDIR, errno.ENOTDIR, errno.EDQUOT, errno.EEXIST})


def _flag_names(args: argparse.Namespace | None) -> dict[str, str]:
    """Config field -> the flag that sets it, for the parsed subcommand."""
    names = {"output": "--output", "name": "--name", "version": "--version", "num": "--num"}
    if args is not None and hasattr(args, "application"):
        names.update({f.name: _flag(f.name) for f in dataclasses.fields(TrainConfig)})
        names.update({k: v for k, v in args.flags.items() if v})
    return names


class _StderrLog(logging.Handler):
    """The library's INFO lines (what a resume will do, files repaired) on the current
    ``sys.stderr``, looked up per line (so redirections and test captures see them)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{PROG}: {self.format(record)}", file=sys.stderr)


_LOG_HANDLER = _StderrLog()


def _show_library_log(quiet: bool) -> None:
    log = logging.getLogger("tfgan_apps")
    if _LOG_HANDLER not in log.handlers:
        log.addHandler(_LOG_HANDLER)
    log.setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfgan-apps`` console script; returns the exit status.

    :class:`~tfgan_apps.errors.UserError` (raised where the library checks what the user
    gave) is printed as one line, with the option named by its flag, and exits 2; any other
    exception is a bug and keeps its traceback.
    """
    import tensorflow as tf

    from tfgan_apps import quiet_stderr

    with quiet_stderr():
        tf.config.list_physical_devices()  # CUDA probing chatter, not the user's business
    args = None
    library_log = logging.getLogger("tfgan_apps")
    propagate = library_log.propagate
    try:
        args = build_parser().parse_args(argv)
        _show_library_log(getattr(args, "quiet", False))
        # Shown once, by our handler: absl's first log line (TFDS logs through it) calls
        # logging.basicConfig(), whose root handler would repeat every line.
        library_log.propagate = False
        return args.func(args)
    except UserError as error:
        if os.environ.get("TFGAN_APPS_DEBUG"):
            raise
        message = error.describe(_flag_names(args)).strip().splitlines()
        print(f"{PROG}: error: {message[0] if message else type(error).__name__}",
              file=sys.stderr)
        return 2
    except OSError as error:
        # The file system refusing a path the user chose (missing, no permission, full or
        # read-only disk) is the user's to fix; any other OSError is a bug.
        if error.errno not in _USER_ERRNOS or os.environ.get("TFGAN_APPS_DEBUG"):
            raise
        where = f": {error.filename}" if error.filename else ""
        print(f"{PROG}: error: {error.strerror}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        library_log.propagate = propagate  # an in-process caller's logging is left as it was


if __name__ == "__main__":
    sys.exit(main())
