"""SIGKILL at random moments, then resume: the same run as one never interrupted (issue 10).

Each application trains a tiny deterministic run with step checkpoints (every 5 of an
epoch's 12 steps) in a subprocess of the real CLI. The killed copy is SIGKILLed at random
moments of the training it still has to do (mid-epoch, or during a checkpoint, model.keras,
grid or history.json write), once right after a step checkpoint (so it resumes mid-epoch),
and once right after its last epoch checkpoint, and re-run each time; once it finishes, its
weights, history and sample grids must equal the uninterrupted run's bit for bit, and no
temporary file may be left.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tfgan_apps  # noqa: F401  (registers the model classes model.keras names)

EPOCHS = 4
COMMON = ["--steps-per-epoch", "12", "--epochs", str(EPOCHS), "--deterministic", "--seed", "3",
          "--no-xla", "--quiet", "--checkpoint-every-steps", "5"]
APPS = {
    "dcgan": ["--dataset", "builtin", "--batch-size", "8", "--image-size", "16", "--channels",
              "1", "--latent-dim", "8", "--base-filters", "8"],
    "cyclegan": ["--image-size", "32", "--base-filters", "4", "--residual-blocks", "1",
                 "--pool-size", "2"],
}
#: what each attempt waits for before its SIGKILL
SCHEDULE = ("random", "step checkpoint", "random", "random", "last checkpoint")


def _command(app: str, output: str) -> list[str]:
    return [sys.executable, "-m", "tfgan_apps.cli", "train", app, *APPS[app], *COMMON,
            "--output", output]


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _wait_for_training(process: subprocess.Popen, config_path: str, since: float) -> bool:
    """Wait until this process has written its run record (training is about to start)."""
    while process.poll() is None:
        if os.path.exists(config_path) and os.path.getmtime(config_path) >= since:
            return True
        time.sleep(0.05)
    return False


def _epochs_done(run_dir: str) -> int:
    """The epoch of the run's latest checkpoint (0 before the first)."""
    try:
        with open(os.path.join(run_dir, "checkpoints", "checkpoint")) as f:
            first = f.readline()
    except OSError:
        return 0
    return int(first.rsplit("ckpt-", 1)[1].strip().strip('"')) if "ckpt-" in first else 0


def _step_checkpoint_time(run_dir: str) -> float:
    try:
        return os.path.getmtime(os.path.join(run_dir, "checkpoints", "steps", "checkpoint"))
    except OSError:
        return 0.0


def _run_files(run_dir: str) -> dict:
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    with open(os.path.join(run_dir, "history.json")) as f:
        history = json.load(f)
    samples = os.path.join(run_dir, "samples")
    grids = {name: open(os.path.join(samples, name), "rb").read()
             for name in sorted(os.listdir(samples))}
    return {"weights": [np.asarray(w) for w in model.weights], "history": history,
            "grids": grids}


@pytest.mark.slow
@pytest.mark.parametrize("app", ["dcgan", "cyclegan"])
def test_random_sigkills_resume_to_the_uninterrupted_run(app, tmp_path):
    reference_dir = str(tmp_path / "reference")
    started = time.time()
    done = subprocess.run(_command(app, reference_dir), capture_output=True, text=True,
                          env=_env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    # how long training itself takes, after the process has started and written its record
    training_seconds = time.time() - os.path.getmtime(
        os.path.join(reference_dir, "config.json"))
    assert training_seconds < time.time() - started

    killed_dir = str(tmp_path / "killed")
    config_path = os.path.join(killed_dir, "config.json")
    rng = random.Random(f"{app}-kills")
    kills = []
    for moment in SCHEDULE:
        done_epochs = _epochs_done(killed_dir)
        if done_epochs >= EPOCHS:
            break
        since = time.time() - 0.01
        process = subprocess.Popen(_command(app, killed_dir), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=_env())
        if _wait_for_training(process, config_path, since):
            if moment == "random":
                remaining = training_seconds * (EPOCHS - done_epochs) / EPOCHS
                time.sleep(rng.uniform(0.05, 0.5) * remaining)
            elif moment == "step checkpoint":
                while process.poll() is None and _step_checkpoint_time(killed_dir) < since:
                    time.sleep(0.002)
            else:  # before model.keras, the last grid and history.json
                while process.poll() is None and _epochs_done(killed_dir) < EPOCHS:
                    time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills.append((moment, _epochs_done(killed_dir)))
        process.communicate(timeout=900)
    assert len(kills) >= 3, f"only {kills} runs were killed before finishing"

    done = subprocess.run(_command(app, killed_dir), capture_output=True, text=True,
                          env=_env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    want, got = _run_files(reference_dir), _run_files(killed_dir)
    assert got["history"] == want["history"]
    assert got["grids"] == want["grids"]
    for a, b in zip(got["weights"], want["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    with open(config_path) as f:
        resumes = json.load(f)["resumes"]
    assert len(resumes) >= len(kills)  # every re-run is recorded
    assert any(r.get("from_batch") for r in resumes), (kills, resumes)  # one was mid-epoch
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(killed_dir) for f in files
                 if f.startswith(".tmp")]
    assert not leftovers
