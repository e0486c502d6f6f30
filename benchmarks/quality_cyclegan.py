"""CycleGAN style-transfer quality for a fixed training budget on the built-in style domains.

Trains a compact CycleGAN (ResNet generators ngf 32 with 6 residual blocks, 70x70 PatchGANs;
LSGAN, lambda_cycle 10, identity 0.5, image pools of 50, batch 1, Adam 2e-4 / 0.5, the paper's
jitter) on ``tfgan_shapes/style`` (64x64, A = "day" scenes, B = their photographic negatives,
unpaired) for ``--budget`` seconds of wall clock, XLA on one device. The learning rate is
constant for the first half of the budget and decays linearly to 0 over the second half (the
paper's schedule, in wall-clock time because the number of steps is not known in advance).

Then it translates the 200 test images A -> B and prints one JSON object:

- ``psnr_db`` / ``ssim``: against the known true translation ``image_a_in_b`` (8-bit outputs);
- ``identity_psnr_db`` / ``identity_ssim``: the same for A itself, the floor; ``psnr_gain_db``;
- ``colour_sw_relative``: colour sliced-Wasserstein distance of A->B to the real B test images,
  divided by that of A itself (identity = 1, 0 = B's colour distribution);
- ``edge_correlation``: mean correlation of the Sobel edge magnitudes of A and A->B (content
  preserved = 1; the truth scores 1);
- the same three for B -> A against A's ground truth (``b2a_*``, from the negatives);
- steps, steps/s, wall-clock and CPU seconds (the budget includes XLA compilation).

Target (issue 4): ``psnr_db >= identity_psnr_db + 6`` within 900 s on 2 CPU cores.

Usage::

    python benchmarks/quality_cyclegan.py                  # 900 s
    python benchmarks/quality_cyclegan.py --budget 120 --eval-every 60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_apps.data.convert import from_signed_unit, to_signed_unit  # noqa: E402
from tfgan_apps.data.unpaired import load_style_test_triplets, load_tfds_unpaired  # noqa: E402
from tfgan_apps.metrics import (  # noqa: E402
    edge_correlation,
    psnr,
    relative_colour_sliced_wasserstein,
    ssim,
)
from tfgan_apps.models.cyclegan import CycleGAN  # noqa: E402
from tfgan_apps.visualize import save_image_grid  # noqa: E402

STEPS_PER_EPOCH = 50


def evaluate(model: CycleGAN, test: dict[str, np.ndarray]) -> dict[str, float]:
    """Figures of A -> B (and B -> A) on the test triplets (uint8 ``[N, S, S, 3]`` arrays)."""
    a, truth_b, real_b = test["image_a"], test["image_a_in_b"], test["image_b"]
    translate = lambda g, x: np.concatenate([  # noqa: E731
        from_signed_unit(g(to_signed_unit(x[i:i + 50]), training=False)).numpy()
        for i in range(0, len(x), 50)])
    fake_b = translate(model.g_ab, a)
    fake_a = translate(model.g_ba, truth_b)  # B -> A of the negatives: the truth is A
    figures = {
        "psnr_db": float(psnr(fake_b, truth_b).mean()),
        "ssim": float(ssim(fake_b, truth_b).mean()),
        "identity_psnr_db": float(psnr(a, truth_b).mean()),
        "identity_ssim": float(ssim(a, truth_b).mean()),
        "colour_sw_relative": relative_colour_sliced_wasserstein(fake_b, a, real_b),
        "edge_correlation": float(np.nanmean(edge_correlation(fake_b, a))),
        "b2a_psnr_db": float(psnr(fake_a, a).mean()),
        "b2a_ssim": float(ssim(fake_a, a).mean()),
        "b2a_edge_correlation": float(np.nanmean(edge_correlation(fake_a, truth_b))),
    }
    figures["psnr_gain_db"] = figures["psnr_db"] - figures["identity_psnr_db"]
    return {k: round(v, 4) for k, v in figures.items()}


class TimeBudget(keras.callbacks.Callback):
    """Stops after ``budget`` s from ``start``; LR constant for the first half of the budget,
    then linear to 0 (assigned to both optimizers at every epoch end); optional evaluations."""

    def __init__(self, start: float, budget: float, test: dict, eval_every: float) -> None:
        super().__init__()
        self.start, self.budget, self.test, self.eval_every = start, budget, test, eval_every
        self.next_eval = eval_every
        self.initial: dict[str, float] = {}
        self.steps = 0

    def on_train_begin(self, logs=None) -> None:
        for name in ("g_optimizer", "d_optimizer"):
            self.initial[name] = float(getattr(self.model, name).learning_rate)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.steps += STEPS_PER_EPOCH
        elapsed = time.perf_counter() - self.start
        fraction = min(1.0, max(0.0, 2.0 * (1.0 - elapsed / self.budget)))
        for name, initial in self.initial.items():
            getattr(self.model, name).learning_rate = initial * fraction
        if self.eval_every and elapsed >= self.next_eval:
            self.next_eval += self.eval_every
            print(json.dumps({"elapsed_s": round(elapsed), "steps": self.steps,
                              "lr_fraction": round(fraction, 3),
                              **{k: round(float(v), 3) for k, v in (logs or {}).items()},
                              **evaluate(self.model, self.test)}), file=sys.stderr, flush=True)
        if elapsed >= self.budget:
            self.model.stop_training = True


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=900.0, help="wall-clock seconds")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--base-filters", type=int, default=32, help="ngf")
    parser.add_argument("--discriminator-filters", type=int, default=64, help="ndf")
    parser.add_argument("--residual-blocks", type=int, default=6)
    parser.add_argument("--upsampling", choices=("transpose", "upsample"), default="transpose")
    parser.add_argument("--lambda-identity", type=float, default=0.5)
    parser.add_argument("--loss", choices=("least_squares", "non_saturating"),
                        default="least_squares")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=float, default=0.0,
                        help="also print test figures to stderr every N s (tuning)")
    parser.add_argument("--samples", help="write a PNG of 8 test rows A | A->B | truth here")
    args = parser.parse_args(argv)

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    keras.utils.set_random_seed(args.seed)
    train = load_tfds_unpaired("builtin", image_size=args.image_size,
                               batch_size=args.batch_size, seed=args.seed).repeat()
    test = {key: np.concatenate([from_signed_unit(batch[key]).numpy() for batch in
                                 load_style_test_triplets(image_size=args.image_size)])
            for key in ("image_a", "image_b", "image_a_in_b")}
    model = CycleGAN(image_size=args.image_size, base_filters=args.base_filters,
                     discriminator_filters=args.discriminator_filters,
                     num_residual_blocks=args.residual_blocks, upsampling=args.upsampling,
                     lambda_identity=args.lambda_identity, seed=args.seed)
    optimizers = [keras.optimizers.Adam(args.learning_rate, beta_1=0.5) for _ in range(2)]
    model.compile(*optimizers, loss=args.loss, jit_compile=not args.no_xla)
    budget = TimeBudget(start_wall, args.budget, test, args.eval_every)
    print(f"training for a budget of {args.budget:.0f} s wall clock", file=sys.stderr,
          flush=True)
    model.fit(train, epochs=10**6, steps_per_epoch=STEPS_PER_EPOCH, verbose=0,
              callbacks=[budget])
    train_wall, train_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    if args.samples:
        fake = from_signed_unit(model.g_ab(to_signed_unit(test["image_a"][:8]))).numpy()
        rows = [x for row in zip(test["image_a"][:8], fake, test["image_a_in_b"][:8],
                                 strict=True) for x in row]
        save_image_grid(np.stack(rows), args.samples, columns=3)
    steps = int(model.g_optimizer.iterations)
    report = {
        "benchmark": "quality_cyclegan",
        "dataset": "tfgan_shapes/style",
        "test_examples": int(len(test["image_a"])),
        **evaluate(model, test),
        "target_psnr_gain_db": 6.0,
        "budget_s": args.budget,
        "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1),
        "steps": steps,
        "steps_per_s": round(steps / train_wall, 2),
        "cpu_cores": os.cpu_count(),
        "config": {k: v for k, v in vars(args).items() if k not in ("eval_every", "samples")},
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    print(json.dumps(report, indent=2), flush=True)
    return report


if __name__ == "__main__":
    main()
