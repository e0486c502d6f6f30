"""``tfgan-apps quickstart``: every application, trained briefly on the built-in dataset.

For each application in ``QUICKSTART_CONFIGS`` it trains for a short fixed budget (a few
minutes in all on 2 CPU cores), writes sample grids and loss curves into
``runs/quickstart-<timestamp>/<app>/`` and exports a SavedModel to ``saved_models/<app>/N/``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tfgan_apps.export import DEFAULT_EXPORT_DIR, export_saved_model
from tfgan_apps.training import TrainConfig, train

# Fixed budgets, chosen so each application shows recognisable results on 2 CPU cores.
QUICKSTART_CONFIGS: dict[str, TrainConfig] = {
    "dcgan": TrainConfig(app="dcgan", dataset="builtin", image_size=32, channels=3,
                         batch_size=64, epochs=6, steps_per_epoch=150, latent_dim=64,
                         base_filters=48),
    # pix2pix segmentation of the built-in shapes (64x64, 4 classes), with the cGAN term;
    # ~5 min: masks take shape, classes are still mixed (measured test mIoU 0.58;
    # benchmarks/quality_pix2pix.py reaches 0.94 in 10 min). No XLA: slower than oneDNN for
    # the U-Net on CPU.
    "pix2pix": TrainConfig(app="pix2pix", dataset="builtin", image_size=64, batch_size=16,
                           epochs=6, steps_per_epoch=250, base_filters=32, learning_rate=1e-3,
                           xla=False, extra={"dropout": 0.0}),
    # CycleGAN day -> night on the built-in style domains (64x64): the compact network of
    # benchmarks/quality_cyclegan.py (ngf 32, 6 residual blocks), batch 1, LSGAN, LR decay;
    # nearest-neighbour upsampling (no checkerboard: cleaner pictures after a short run).
    "cyclegan": TrainConfig(app="cyclegan", dataset="builtin", image_size=64, batch_size=1,
                            epochs=4, steps_per_epoch=200, base_filters=32,
                            loss="least_squares",
                            extra={"residual_blocks": 6, "discriminator_filters": 64,
                                   "upsampling": "upsample"}),
}


@dataclass
class QuickstartResult:
    """Where one application's quickstart outputs went."""

    app: str
    run_dir: str
    samples: str
    loss_curves: str
    saved_model: str
    seconds: float


def quickstart(
    apps: Sequence[str] | None = None,
    runs_root: str = "runs",
    export_dir: str = DEFAULT_EXPORT_DIR,
    epochs_scale: float = 1.0,
    report: Callable[[str], None] = print,
) -> list[QuickstartResult]:
    """Train, picture and export every application (or ``apps``) on the built-in dataset.

    Args:
        apps: subset of ``QUICKSTART_CONFIGS`` (default all, in order).
        runs_root: parent of the ``quickstart-<timestamp>`` directory.
        export_dir: SavedModel root.
        epochs_scale: multiply every budget's steps per epoch (tests use a tiny fraction).
        report: where progress lines go.
    """
    apps = list(apps or QUICKSTART_CONFIGS)
    unknown = [a for a in apps if a not in QUICKSTART_CONFIGS]
    if unknown:
        raise ValueError(f"unknown application(s) {unknown}; choose from "
                         f"{sorted(QUICKSTART_CONFIGS)}")
    root = os.path.join(runs_root, f"quickstart-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    results = []
    for app in apps:
        base = QUICKSTART_CONFIGS[app]
        steps = max(1, round((base.steps_per_epoch or 1) * epochs_scale))
        config = dataclasses.replace(base, output=os.path.join(root, app), steps_per_epoch=steps)
        report(f"[quickstart] training {app}: {config.epochs} epochs x {steps} steps "
               f"-> {config.output}")
        start = time.perf_counter()
        result = train(config)
        seconds = time.perf_counter() - start
        exported = export_saved_model(result.model, export_dir, name=app)
        results.append(QuickstartResult(
            app=app, run_dir=result.run_dir, samples=result.samples_dir,
            loss_curves=os.path.join(result.run_dir, "loss_curves.png"),
            saved_model=exported, seconds=seconds,
        ))
        report(f"[quickstart] {app} done in {seconds:.0f} s")
    report("[quickstart] outputs:")
    for r in results:
        report(f"  {r.app}: samples {r.samples}/  curves {r.loss_curves}  "
               f"SavedModel {r.saved_model}  ({r.seconds:.0f} s)")
    return results
