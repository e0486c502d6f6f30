"""CycleGAN style-transfer quality for a fixed step budget on the built-in style domains,
through ``tfgan_apps.train()`` (the CLI's path: same data pipeline, jitter, model factory,
optimizers and learning-rate schedule as ``tfgan-apps train cyclegan``).

Every variant trains on ``tfgan_shapes/style`` (64x64, A = "day" scenes, B = their
photographic negatives, unpaired) with the compact setting of the measurements so far (ResNet
generators ngf 32 with 6 residual blocks, 70x70 PatchGANs ndf 64, batch 1) and the
application's defaults for everything else (XLA off on CPUs, as ``benchmarks/throughput.py``
measured; LSGAN, lambda_cycle 10, identity 0.5, image pools of 50, Adam 2e-4 / 0.5, the
paper's jitter). The budget is given in steps,
``--epochs`` x ``--steps-per-epoch`` (default 50 x 60 = 3000 steps, about 15 minutes on 2
cores), because the application builds the paper's schedule from it: the learning rate is
constant up to ``decay_start_epoch`` (default half of the epochs) and then decays linearly to
0. ``--budget SECONDS`` optionally stops a run early by wall clock (reported as
``stopped_by_budget``; the schedule then never reaches 0). Variants (flat
``TrainConfig.create`` settings over that base):

- ``default``: the application's defaults (since this benchmark chose them: nearest-neighbour
  upsampling and no instance norm in the generators, i.e. ``upsample_no_norm``);
- ``paper_upsampling``: ``--upsampling transpose``, the paper's, pinned;
- ``upsample``: ``--upsampling upsample --generator-norm instance``, nearest-neighbour
  upsampling + convolution with the paper's instance norm (the defaults before this
  benchmark chose ``none``);
- ``identity_0`` / ``identity_1``: ``--lambda-identity 0`` / ``1.0``;
- ``long_constant``: ``--decay-start-epoch`` at 75 % of the epochs;
- ``unet``: ``--generator unet --generator-norm instance``, the pix2pix U-Net with instance
  norm, whose un-normalized outermost skip connection carries each image's absolute colours
  to the output (the ResNet generator's instance norms remove them after its first layer);
- ``upsample_no_norm``: ``--upsampling upsample --generator-norm none``, the ResNet generator
  without instance norm (the absolute colours reach the output; fully convolutional still).

After training, the 200 test images are translated A -> B with ``result.model`` and one JSON
line per (variant, seed) is printed with the equivalent CLI command, the steps done, wall-clock
and CPU seconds of the whole ``train()`` call (data, tracing, XLA compilation and per-epoch
files included), steps/s, and:

- ``psnr_db`` / ``ssim``: against the known true translation ``image_a_in_b`` (8-bit outputs);
- ``identity_psnr_db`` / ``identity_ssim``: the same for A itself, the floor; ``psnr_gain_db``;
- ``colour_sw_relative``: colour sliced-Wasserstein distance of A->B to the real B test images,
  divided by that of A itself (identity = 1, 0 = B's colour distribution);
- ``edge_correlation``: mean correlation of the Sobel edge magnitudes of A and A->B (content
  preserved = 1; the truth scores 1);
- the same for B -> A against A's ground truth (``b2a_*``, from the negatives).

Targets (issue 9), reported per run in ``targets``: ``psnr_db >= identity_psnr_db + 13``,
``edge_correlation >= 0.6`` and ``colour_sw_relative <= 0.1``.

Usage::

    python benchmarks/quality_cyclegan.py                             # every variant, seed 0
    python benchmarks/quality_cyclegan.py --variants default,upsample --seeds 0,1 --samples
    python benchmarks/quality_cyclegan.py --variants default --epochs 10 --steps-per-epoch 60 \\
        --budget 300 --workdir runs/bench
    python benchmarks/quality_cyclegan.py --variants default --precision bf16   # vs fp32's
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgan_apps  # noqa: E402
from tfgan_apps import CycleGAN, CycleGANOptions, TrainConfig  # noqa: E402
from tfgan_apps.config import PRECISIONS  # noqa: E402
from tfgan_apps.data.convert import from_signed_unit, to_signed_unit  # noqa: E402
from tfgan_apps.metrics import (  # noqa: E402
    edge_correlation,
    psnr,
    ssim,
    unpaired_translation_measures,
)
from tfgan_apps.visualize import save_image_grid  # noqa: E402

#: the shared setting of every variant: the compact CycleGAN measured so far (64x64, ngf 32,
#: 6 residual blocks, ndf 64, batch 1; XLA left to the application's default); pictures and
#: checkpoints every 10 epochs keep the per-epoch file writing out of the timing (the last
#: epoch always gets a checkpoint)
BASE: dict[str, Any] = {
    "dataset": "builtin",
    "image_size": 64,
    "base_filters": 32,
    "num_residual_blocks": 6,
    "discriminator_filters": 64,
    "batch_size": 1,
    "sample_every": 10,
    "checkpoint_every": 10,
}

#: variant -> its flat settings over :data:`BASE`, as a function of the epochs (the decay start
#: of ``long_constant`` is a fraction of the budget)
VARIANTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "default": lambda epochs: {},
    "paper_upsampling": lambda epochs: {"upsampling": "transpose"},
    "upsample": lambda epochs: {"upsampling": "upsample", "generator_norm": "instance"},
    "identity_0": lambda epochs: {"lambda_identity": 0.0},
    "identity_1": lambda epochs: {"lambda_identity": 1.0},
    "long_constant": lambda epochs: {"decay_start_epoch": int(0.75 * epochs)},
    "unet": lambda epochs: {"generator": "unet", "generator_norm": "instance"},
    "upsample_no_norm": lambda epochs: {"upsampling": "upsample", "generator_norm": "none"},
}

#: issue 9: PSNR gain over the identity (dB), edge correlation, relative colour distance
TARGET_PSNR_GAIN_DB, TARGET_EDGE_CORRELATION, TARGET_COLOUR_SW_RELATIVE = 13.0, 0.6, 0.1

#: test images translated per generator call
EVAL_BATCH = 50


def cli_command(settings: dict[str, Any]) -> str:
    """The ``tfgan-apps train cyclegan ...`` command line of flat ``settings``.

    Flags are ``--`` + the field name with ``_`` -> ``-`` unless the option declares its own
    (``num_residual_blocks`` -> ``--residual-blocks``); booleans are ``--x`` / ``--no-x``
    (``argparse.BooleanOptionalAction`` in the CLI); ``None`` means the default and is left out.
    """
    flags = {f.name: f.metadata.get("flag") or "--" + f.name.replace("_", "-")
             for f in dataclasses.fields(CycleGANOptions)}
    words = ["tfgan-apps", "train", "cyclegan"]
    for name, value in settings.items():
        flag = flags.get(name, "--" + name.replace("_", "-"))
        if value is None:
            continue
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        else:
            words += [flag, str(value)]
    return shlex.join(words)


class StepBudget(keras.callbacks.Callback):
    """Counts the training steps, times those after the first (which includes tracing and
    XLA compilation) and, with ``budget``, stops training once ``budget`` seconds have passed
    since ``start`` (checked after every step; the epoch then ends normally, so the run's files
    are written)."""

    def __init__(self, start: float, budget: float | None = None) -> None:
        super().__init__()
        self.start, self.budget = start, budget
        self.steps, self.steady_seconds = 0, 0.0
        self.stopped_by_budget = False
        self._batch_start = 0.0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        self.steps += 1
        if self.steps > 1:
            self.steady_seconds += now - self._batch_start
        if self.budget is not None and now - self.start >= self.budget:
            self.stopped_by_budget = True
            self.model.stop_training = True


def load_test_triplets(image_size: int) -> dict[str, np.ndarray]:
    """The built-in style test split as uint8 ``[200, S, S, 3]`` arrays: ``image_a``, an
    unrelated real ``image_b`` and the true translation ``image_a_in_b``."""
    batches = list(tfgan_apps.load_style_test_triplets(image_size=image_size))
    return {key: np.concatenate([from_signed_unit(batch[key]).numpy() for batch in batches])
            for key in ("image_a", "image_b", "image_a_in_b")}


def translate(model: CycleGAN, images: np.ndarray, direction: str) -> np.ndarray:
    """uint8 ``[N, S, S, 3]`` -> the model's uint8 translation (``"a2b"`` or ``"b2a"``)."""
    method = model.translate_a2b if direction == "a2b" else model.translate_b2a
    return np.concatenate([from_signed_unit(method(to_signed_unit(images[i:i + EVAL_BATCH])))
                           .numpy() for i in range(0, len(images), EVAL_BATCH)])


def evaluate(model: CycleGAN, test: dict[str, np.ndarray]) -> dict[str, float]:
    """Figures of A -> B (and B -> A) on the test triplets (uint8 ``[N, S, S, 3]`` arrays),
    with the library's :func:`~tfgan_apps.metrics.unpaired_translation_measures` (what
    ``tfgan-apps evaluate`` reports)."""
    a, truth_b, real_b = test["image_a"], test["image_a_in_b"], test["image_b"]
    figures = unpaired_translation_measures(translate(model, a, "a2b"), a, real_b, truth_b)
    # B -> A of the true translations: the truth is A
    fake_a = translate(model, truth_b, "b2a")
    figures.update({
        "b2a_psnr_db": round(float(psnr(fake_a, a).mean()), 4),
        "b2a_ssim": round(float(ssim(fake_a, a).mean()), 4),
        "b2a_edge_correlation": round(float(np.nanmean(edge_correlation(fake_a, truth_b))), 4),
    })
    return figures


def targets_met(figures: dict[str, float]) -> dict[str, bool]:
    """Which of the issue-9 targets ``figures`` (of :func:`evaluate`) meet, and ``all``."""
    met = {
        "psnr_gain": figures["psnr_gain_db"] >= TARGET_PSNR_GAIN_DB,
        "edge_correlation": figures["edge_correlation"] >= TARGET_EDGE_CORRELATION,
        "colour_sw_relative": figures["colour_sw_relative"] <= TARGET_COLOUR_SW_RELATIVE,
    }
    return {**met, "all": all(met.values())}


def save_samples(model: CycleGAN, test: dict[str, np.ndarray], path: str) -> str:
    """A PNG of the first 8 test rows ``A | A->B | true A->B``; returns ``path``."""
    a, truth = test["image_a"][:8], test["image_a_in_b"][:8]
    rows = zip(a, translate(model, a, "a2b"), truth, strict=True)
    return save_image_grid(np.stack([x for row in rows for x in row]), path, columns=3)


def run_settings(name: str, seed: int, args: argparse.Namespace, workdir: str
                 ) -> dict[str, Any]:
    """The flat ``TrainConfig.create`` settings of one run: base, command-line overrides of
    the network size, the variant's own, then the step budget, seed and run directory."""
    overrides = {"image_size": args.image_size, "base_filters": args.base_filters,
                 "num_residual_blocks": args.residual_blocks,
                 "discriminator_filters": args.discriminator_filters, "xla": args.xla,
                 "precision": args.precision}
    return {
        **BASE,
        **{k: v for k, v in overrides.items() if v is not None},
        **VARIANTS[name](args.epochs),
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "seed": seed,
        "output": os.path.join(workdir, f"{name}-seed{seed}"),
    }


def run_variant(name: str, seed: int, args: argparse.Namespace, workdir: str,
                test_cache: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Train one (variant, seed) with ``tfgan_apps.train()`` and return its report."""
    settings = run_settings(name, seed, args, workdir)
    command = cli_command(settings)
    print(f"{name} seed {seed}: {command}", file=sys.stderr, flush=True)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    counter = StepBudget(start_wall, args.budget)
    result = tfgan_apps.train(TrainConfig.create("cyclegan", **settings), callbacks=[counter],
                              verbose=0)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    image_size = settings["image_size"]
    if image_size not in test_cache:
        test_cache[image_size] = load_test_triplets(image_size)
    test = test_cache[image_size]
    figures = evaluate(result.model, test)
    report: dict[str, Any] = {
        "variant": name,
        "seed": seed,
        "command": command,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "planned_steps": args.epochs * args.steps_per_epoch,
        "steps": counter.steps,
        "budget_seconds": args.budget,
        "stopped_by_budget": counter.stopped_by_budget,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "steps_per_second": round(counter.steps / wall, 2),
        # without the first step (tracing, XLA compilation) and the per-epoch files
        "steady_steps_per_second": round((counter.steps - 1) / counter.steady_seconds, 2)
        if counter.steady_seconds else None,
        "test_examples": int(len(test["image_a"])),
        **figures,
        "targets": targets_met(figures),
        "run_dir": result.run_dir,
    }
    if args.samples:
        report["samples"] = save_samples(result.model, test,
                                         os.path.join(result.run_dir, "test_translations.png"))
    return report


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {list(VARIANTS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (e.g. 0,1)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs per run (default 50)")
    parser.add_argument("--steps-per-epoch", type=int, default=60,
                        help="steps per epoch (default 60: 3000 steps, ~15 min on 2 cores)")
    parser.add_argument("--budget", type=float, default=None,
                        help="optional safety stop: wall-clock seconds per run, from the "
                        "train() call")
    parser.add_argument("--image-size", type=int, default=None,
                        help=f"override the base's {BASE['image_size']} (test images resized)")
    parser.add_argument("--base-filters", type=int, default=None,
                        help=f"override the base's ngf {BASE['base_filters']}")
    parser.add_argument("--residual-blocks", type=int, default=None,
                        help=f"override the base's {BASE['num_residual_blocks']} blocks")
    parser.add_argument("--discriminator-filters", type=int, default=None,
                        help=f"override the base's ndf {BASE['discriminator_filters']}")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA on or off (default: the application's, off on CPUs)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default=None,
                        help="train every variant at this precision (default: fp32)")
    parser.add_argument("--samples", action="store_true",
                        help="write RUN_DIR/test_translations.png: 8 test rows A | A->B | truth")
    parser.add_argument("--workdir", default=None,
                        help="parent folder of the run directories (default: a new temporary "
                        "one, kept)")
    args = parser.parse_args(argv)
    names = _names(args.variants)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    seeds = [int(s) for s in _names(args.seeds)]
    workdir = args.workdir or tempfile.mkdtemp(prefix="quality_cyclegan-")
    print(json.dumps({"benchmark": "quality_cyclegan", "dataset": "tfgan_shapes/style",
                      "config": {**vars(args), "workdir": workdir}, "base": BASE,
                      "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
                      "keras": keras.__version__}), flush=True)
    results, test_cache = [], {}
    for name in names:
        for seed in seeds:  # each result as soon as it is known: a run takes minutes
            results.append(run_variant(name, seed, args, workdir, test_cache))
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({
        "targets": f"psnr_db >= identity_psnr_db + {TARGET_PSNR_GAIN_DB:g}, edge_correlation "
                   f">= {TARGET_EDGE_CORRELATION:g}, colour_sw_relative <= "
                   f"{TARGET_COLOUR_SW_RELATIVE:g}",
        "met": {f"{r['variant']}/seed{r['seed']}": r["targets"]["all"] for r in results},
        "best_psnr_gain": next((f"{r['variant']}/seed{r['seed']}" for r in sorted(
            results, key=lambda r: -r["psnr_gain_db"])), None),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
