"""DCGAN sample quality for a fixed wall-clock budget on the built-in generation set.

Every variant is trained by ``tfgan_apps.train()`` (what ``tfgan-apps train dcgan`` runs) on
``tfgan_shapes/generation`` (32x32 RGB scenes of 1-3 flat shapes: disc, square, triangle, ring,
cross), on the full training split (10000 images) or on its first N images written to a folder
(``--data-dir``, the small-data case), and stopped when ``--budget`` seconds have passed since
``train()`` was called (data preparation and tracing included).

Scoring: a small shape classifier, trained here on the real training split with a fixed seed
(part of the benchmark, so every figure is comparable), labels the dominant shape of
``--samples`` generated images. Reported against the same figures for the real test split:

- ``confidence``: mean top softmax probability (recognisable shapes score high);
- ``coverage``: entropy of the predicted-class histogram / log(5) (1: all kinds equally;
  mode collapse lowers it);
- ``fid``: Frechet distance between the classifier's penultimate features of generated and
  real test images (Heusel et al. 2017's formula in this classifier's feature space, not
  Inception's: comparable within this benchmark only).

With a moving-average generator (``--ema-decay``, the default) each run also scores the raw
generator under ``raw_generator`` (same noise, same classifier), so one run measures both sides
of the EMA option.

Targets (issue 9): with the default settings, confidence ratio >= 0.9 and coverage ratio >= 0.95
of real within 10 CPU minutes (600 s on 2 cores) on the full set.

Usage::

    python benchmarks/quality_dcgan.py                                  # every variant, full set
    python benchmarks/quality_dcgan.py --variants default --seeds 0,1 --budget 600
    python benchmarks/quality_dcgan.py --train-sizes 300,1000 --variants upsample,diffaugment
    python benchmarks/quality_dcgan.py --variants default --precision bf16   # vs fp32's figures
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

import tfgan_apps  # noqa: E402,F401  (registers tfgan_shapes)
from tfgan_apps import TrainConfig, load_run_model, train  # noqa: E402
from tfgan_apps.config import PRECISIONS  # noqa: E402
from tfgan_apps.data.convert import from_signed_unit_numpy  # noqa: E402

NUM_KINDS = 5
#: flat train() settings of each variant, over the application's defaults
VARIANTS: dict[str, dict] = {
    "paper": {"preset": "paper"},
    "upsample": {"preset": "paper", "upsampling": "upsample"},
    "ema": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999},
    "diffaugment": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999,
                    "diff_augment": "color,translation,cutout"},
    "translation": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999,
                    "diff_augment": "translation"},
    "sn_hinge": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999,
                 "spectral_norm": True, "loss": "hinge"},
    "r1": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999, "r1_weight": 0.1},
    "ttur": {"preset": "paper", "upsampling": "upsample", "ema_decay": 0.999,
             "learning_rate": 1e-4, "d_learning_rate": 4e-4},
    "default": {},
}


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``budget`` seconds have passed since ``start``, or after
    ``max_steps`` steps (checked after every batch; the epoch then ends normally, so the run's
    files are written). Step budgets make ablations independent of the machine's load."""

    def __init__(self, start: float, budget: float, max_steps: int | None = None) -> None:
        super().__init__()
        self.start, self.budget, self.max_steps = start, budget, max_steps
        self.steps = 0
        self.first_step_end: float | None = None

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.steps += 1
        now = time.perf_counter()
        if self.first_step_end is None:
            self.first_step_end = now
        if now - self.start >= self.budget or (self.max_steps and self.steps >= self.max_steps):
            self.model.stop_training = True


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``[N, 32, 32, 3]`` images and int labels of the built-in generation set."""
    data = tfds.as_numpy(tfds.load("tfgan_shapes/generation", split=split, batch_size=-1))
    return data["image"], data["label"]


def build_classifier(seed: int) -> tuple[keras.Model, keras.Model]:
    """A small CNN over [-1, 1] images -> (logit model, penultimate feature model)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for filters in (32, 64, 128):
        for _ in range(2):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    features = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(NUM_KINDS)(features)
    return keras.Model(inputs, logits), keras.Model(inputs, features)


def train_classifier(seed: int, epochs: int, cache: str | None
                     ) -> tuple[keras.Model, keras.Model, float]:
    """The scoring classifier, trained once per (seed, epochs) and kept in ``cache``."""
    images, labels = load_split("train")
    test_images, test_labels = load_split("test")
    classifier, features = build_classifier(seed)
    steps = epochs * (len(images) // 128)
    classifier.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    path = cache and os.path.join(
        cache, f"shape_classifier-v2-seed{seed}-epochs{epochs}.weights.h5")
    if path and os.path.exists(path):
        classifier.load_weights(path)
    else:
        classifier.fit(_signed(images), labels, batch_size=128, epochs=epochs, verbose=0,
                       shuffle=True)
        if path:
            os.makedirs(cache, exist_ok=True)
            classifier.save_weights(path)
    accuracy = classifier.evaluate(_signed(test_images), test_labels, verbose=0)[1]
    return classifier, features, float(accuracy)


def _signed(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 127.5 - 1.0


def score(classifier: keras.Model, features: keras.Model, images: np.ndarray,
          real_features: np.ndarray | None) -> tuple[dict, np.ndarray]:
    """Confidence, coverage (and FID against ``real_features``) of [-1, 1] images."""
    probabilities = tf.nn.softmax(classifier.predict(images, batch_size=250, verbose=0)).numpy()
    predicted = probabilities.argmax(-1)
    histogram = np.bincount(predicted, minlength=NUM_KINDS) / len(predicted)
    nonzero = histogram[histogram > 0]
    result = {
        "confidence": float(probabilities.max(-1).mean()),
        "coverage": abs(float(-(nonzero * np.log(nonzero)).sum() / np.log(NUM_KINDS))),
        "class_histogram": [round(float(h), 3) for h in histogram],
    }
    feats = features.predict(images, batch_size=250, verbose=0).astype(np.float64)
    if real_features is not None:
        result["fid"] = frechet_distance(feats, real_features)
    return result, feats


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` of two feature sets."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((S_a S_b)^(1/2)) = sum of the square roots of the eigenvalues of S_a S_b, which are
    # real and >= 0 (it is similar to S_a^(1/2) S_b S_a^(1/2)); clip round-off.
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * trace_sqrt)


def write_subset(size: int, directory: str) -> str:
    """The first ``size`` training images as PNG files in ``directory`` (the folder path of
    ``train dcgan --data-dir``)."""
    images, _ = load_split(f"train[:{size}]")
    for index, image in enumerate(images):
        tf.io.write_file(os.path.join(directory, f"{index:05d}.png"),
                         tf.io.encode_png(image))
    return directory


def cli_command(settings: dict) -> str:
    words = ["tfgan-apps", "train", "dcgan"]
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + key.replace("_", "-"))
        elif value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def run_variant(name: str, size: int | None, seed: int, args: argparse.Namespace,
                workdir: str, scorer: tuple) -> dict:
    classifier, features, real = scorer
    settings = dict(VARIANTS[name])
    if size is None:
        settings["dataset"] = "builtin"
    else:
        folder = os.path.join(workdir, f"train_{size}")
        if not os.path.isdir(folder):
            os.makedirs(folder)
            write_subset(size, folder)
        settings["data_dir"] = folder
    if args.base_filters:
        settings["base_filters"] = args.base_filters
    if args.precision:
        settings["precision"] = args.precision
    settings.update(image_size=32, channels=3, seed=seed, epochs=100_000,
                    steps_per_epoch=args.steps_per_epoch, sample_every=10,
                    output=os.path.join(workdir, f"run-{name}-{size or 'full'}-{seed}"))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    budget = TimeBudget(start_wall, args.budget, args.max_steps)
    result = train(TrainConfig.create("dcgan", **settings), callbacks=[budget], verbose=0)
    train_wall = time.perf_counter() - start_wall
    cpu = time.process_time() - start_cpu
    model = result.model
    samples = _samples(model, args.samples)
    generated, _ = score(classifier, features, samples, real["features"])
    raw = _raw_generator_figures(model, args.samples, scorer)
    steady = time.perf_counter() if budget.first_step_end is None else budget.first_step_end
    grid = os.path.join(result.run_dir, "final_grid.png")
    tf.io.write_file(grid, tf.io.encode_png(_grid(samples[:64])))
    history = result.history or {}
    return {
        "variant": name,
        "train_images": size or 10000,
        "seed": seed,
        "command": cli_command({k: v for k, v in settings.items() if k != "epochs"})
        + f"  # stopped after {args.budget:.0f} s"
        + (f" or {args.max_steps} steps" if args.max_steps else ""),
        "budget_seconds": args.budget,
        "max_steps": args.max_steps,
        "steps": budget.steps,
        "train_images_per_second": round((budget.steps - 1) * 64 / max(
            train_wall - (steady - start_wall), 1e-9), 1),
        "wall_seconds": round(train_wall, 1),
        "cpu_seconds": round(cpu, 1),
        **_figures(generated, real),
        "last_d_real": _last(history, "d_real"),
        "last_d_fake": _last(history, "d_fake"),
        "grid": grid,
        **raw,
    }


def _samples(model: keras.Model, count: int, raw: bool = False) -> np.ndarray:
    """``count`` generated images (fixed noise seeds, the same for every run) of the model's
    sampling generator (the moving average when it keeps one), or of the raw ``generator``."""
    generator = model.generator if raw else model.inference_generator
    return np.concatenate([generator(model.sample_noise(250, seed=1000 + i),
                                     training=False).numpy()
                           for i in range(count // 250)])


def _raw_generator_figures(model: keras.Model, count: int, scorer: tuple) -> dict:
    """With a moving-average generator, the same figures for the raw generator under
    ``raw_generator`` (one run then measures both sides of ``--ema-decay``); else ``{}``."""
    if getattr(model, "generator_ema", None) is None:
        return {}
    classifier, features, real = scorer
    generated, _ = score(classifier, features, _samples(model, count, raw=True),
                         real["features"])
    return {"raw_generator": _figures(generated, real)}


def _figures(generated: dict, real: dict) -> dict:
    return {
        "confidence": round(generated["confidence"], 4),
        "coverage": round(generated["coverage"], 4),
        "confidence_ratio": round(generated["confidence"] / real["confidence"], 3),
        "coverage_ratio": round(generated["coverage"] / real["coverage"], 3),
        "fid_classifier_features": round(generated["fid"], 3),
        "class_histogram": generated["class_histogram"],
    }


def _last(history: dict, key: str) -> float | None:
    values = history.get(key)
    return round(float(values[-1]), 4) if values else None


def _grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    tiles = from_signed_unit_numpy(images)
    rows = [np.concatenate(list(tiles[r * columns:(r + 1) * columns]), axis=1)
            for r in range(len(tiles) // columns)]
    return np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {list(VARIANTS)}")
    parser.add_argument("--train-sizes", default="full",
                        help="comma-separated: full and/or image counts (e.g. full,1000,300)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="wall-clock seconds per run, from the train() call (default 600)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="also stop after this many steps (ablations on a busy machine)")
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000,
                        help="generated images scored per run (a multiple of 250)")
    parser.add_argument("--base-filters", type=int, default=None,
                        help="network width of every variant (default: each variant's own)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default=None,
                        help="train every variant at this precision (default: fp32)")
    parser.add_argument("--classifier-seed", type=int, default=0)
    parser.add_argument("--classifier-epochs", type=int, default=8)
    parser.add_argument("--rescore", action="store_true",
                        help="score the finished runs already in --workdir again (e.g. with "
                        "another classifier) instead of training")
    parser.add_argument("--workdir", default=None,
                        help="where runs and subsets go (default: a temporary directory)")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    sizes = [None if s.strip() == "full" else int(s) for s in args.train_sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(json.dumps({"benchmark": "quality_dcgan", "config": vars(args),
                      "cpu_count": os.cpu_count(), "tensorflow": tf.__version__}), flush=True)

    start = time.perf_counter()
    workdir = args.workdir or tempfile.mkdtemp(prefix="quality_dcgan-")
    classifier, features, accuracy = train_classifier(args.classifier_seed,
                                                      args.classifier_epochs, workdir)
    test_images, _ = load_split("test")
    real, real_features = score(classifier, features, _signed(test_images), None)
    real["features"] = real_features
    print(json.dumps({"classifier_test_accuracy": round(accuracy, 4),
                      "real_test_confidence": round(real["confidence"], 4),
                      "real_test_coverage": round(real["coverage"], 4),
                      "real_class_histogram": real["class_histogram"],
                      "classifier_seconds": round(time.perf_counter() - start, 1)}), flush=True)

    if args.rescore:
        for run_dir in sorted(glob.glob(os.path.join(workdir, "run-*"))):
            model = load_run_model(run_dir)
            generated, _ = score(classifier, features, _samples(model, args.samples),
                                 real["features"])
            print(json.dumps({"run": os.path.basename(run_dir), **_figures(generated, real),
                              **_raw_generator_figures(model, args.samples,
                                                       (classifier, features, real))}),
                  flush=True)
        return 0
    results = []
    for size in sizes:
        for name in names:
            for seed in seeds:
                results.append(run_variant(name, size, seed, args, workdir,
                                           (classifier, features, real)))
                print(json.dumps(results[-1]), flush=True)
    defaults = [r for r in results if r["variant"] == "default" and r["train_images"] == 10000]
    if defaults:
        reached = all(r["confidence_ratio"] >= 0.9 and r["coverage_ratio"] >= 0.95
                      for r in defaults)
        print(json.dumps({"target": "confidence ratio >= 0.9, coverage ratio >= 0.95 "
                          "(default settings, full set)", "reached": reached}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
