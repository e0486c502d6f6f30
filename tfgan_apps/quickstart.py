"""``tfgan-apps quickstart``: every application, trained briefly on the built-in dataset.

For each application it trains for the short fixed budget of its ``quickstart_budget``
(the application's defaults otherwise, the same as the CLI's and the Python API's; a few
minutes in all on 2 CPU cores), writes sample grids and loss curves into
``runs/quickstart-<timestamp>/<app>/`` and exports a SavedModel to ``saved_models/<app>/N/``.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tfgan_apps.apps import APPLICATIONS, export_saved_model, train
from tfgan_apps.errors import UserError
from tfgan_apps.export import DEFAULT_EXPORT_DIR


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
        apps: subset of :data:`tfgan_apps.apps.APPLICATIONS` (default all, in order).
        runs_root: parent of the ``quickstart-<timestamp>`` directory.
        export_dir: SavedModel root.
        epochs_scale: multiply every budget's steps per epoch (tests use a tiny fraction).
        report: where progress lines go.
    """
    apps = list(apps or APPLICATIONS)
    unknown = [a for a in apps if a not in APPLICATIONS]
    if unknown:
        raise UserError(f"unknown application(s) {unknown}; choose from {list(APPLICATIONS)}",
                        option="apps")
    root = os.path.join(runs_root, f"quickstart-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    results = []
    for app in apps:
        base = APPLICATIONS[app].quickstart_config()
        steps = max(1, round((base.steps_per_epoch or 1) * epochs_scale))
        config = base.replace(output=os.path.join(root, app), steps_per_epoch=steps)
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
