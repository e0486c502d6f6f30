"""--strategy multiworker: two real worker processes on 127.0.0.1 with TF_CONFIG (issue 11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import tfgan_apps  # noqa: F401  (registers the model classes model.keras names)
from tfgan_apps import TrainConfig, UserError, train

TINY = ["--dataset", "builtin", "--batch-size", "8", "--image-size", "16", "--channels", "1",
        "--latent-dim", "8", "--base-filters", "8", "--steps-per-epoch", "3", "--epochs", "2",
        "--deterministic", "--seed", "3", "--quiet", "--no-xla"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _files(root: str) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
            for f in files}


def _train_two_workers(app: str, flags: list[str], run_dir: str) -> None:
    """``tfgan-apps train APP FLAGS --strategy multiworker --output RUN_DIR`` as two worker
    processes on 127.0.0.1 (TF_CONFIG), both of which must succeed."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = [subprocess.Popen(
        [sys.executable, "-m", "tfgan_apps.cli", "train", app, *flags, "--strategy",
         "multiworker", "--output", run_dir],
        env={**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]


def _train_one_process(app: str, flags: list[str], run_dir: str) -> None:
    """The same run in one process on one device (no strategy), for comparison."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "tfgan_apps.cli", "train", app, *flags, "--output", run_dir],
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _assert_workers_agree_with_one_process(run_dir: str, single_dir: str,
                                           names: tuple[str, ...]) -> None:
    """Both workers hold identical weights, equal (to all-reduce round-off) to one process
    trained with the same global batch; only the chief wrote the run directory."""
    chief = keras.models.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    other_dir = os.path.join(run_dir, ".workers", "worker-1")
    other = keras.models.load_model(os.path.join(other_dir, "model.keras"), compile=False)
    single = keras.models.load_model(os.path.join(single_dir, "model.keras"), compile=False)
    for a, b in zip(chief.weights, other.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for name in names:
        for a, b in zip(getattr(chief, name).weights, getattr(single, name).weights,
                        strict=True):
            # the same batches in the same order, split over two workers: only the order of
            # the all-reduce's sums differs (a different shuffle order differed by 1-3 %)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4,
                                       err_msg=f"{name}/{a.path}")
    with open(os.path.join(run_dir, "config.json")) as f:
        record = json.load(f)
    assert record["resolved"]["replicas"] == 2 and record["strategy"] == "multiworker"
    # the chief wrote the run; worker 1 wrote only under its own .workers/worker-1 (its
    # checkpoints, which it resumes from, and its copies), never a file of the chief's
    files = _files(run_dir)
    assert {"config.json", "history.json", "model.keras", "report.html"} <= files
    assert all(not f.startswith(".workers") or f.startswith(".workers/worker-1/")
               for f in files)
    assert _files(other_dir) >= {"checkpoints/checkpoint", "model.keras"}


def _two_workers_and_one_process(app: str, flags: list[str], tmp_path, **prepare
                                 ) -> tuple[str, str]:
    """Run ``flags`` as two workers and as one process; returns both run directories. The
    built-in dataset is prepared first (a one-step run with ``prepare``), before two
    processes could race to write it."""
    train(TrainConfig.create(app, dataset="builtin", epochs=1, steps_per_epoch=1, xla=False,
                             output=str(tmp_path / "prepare"), **prepare), verbose=0)
    run_dir, single_dir = str(tmp_path / "run"), str(tmp_path / "single")
    _train_two_workers(app, flags, run_dir)
    _train_one_process(app, flags, single_dir)
    return run_dir, single_dir


@pytest.mark.slow
def test_two_dcgan_workers_train_the_model_of_one_process_and_only_the_chief_writes(tmp_path):
    run_dir, single_dir = _two_workers_and_one_process(
        "dcgan", TINY, tmp_path, image_size=16, channels=1, batch_size=8, latent_dim=8,
        base_filters=8)
    _assert_workers_agree_with_one_process(run_dir, single_dir,
                                           ("generator", "discriminator", "generator_ema"))
    assert "samples/epoch_0002.png" in _files(run_dir)


def test_multiworker_needs_tf_config_and_an_output(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    settings = dict(dataset="builtin", image_size=16, channels=1, batch_size=8, epochs=1,
                    steps_per_epoch=1, latent_dim=8, base_filters=8, strategy="multiworker")
    with pytest.raises(UserError, match="TF_CONFIG"):
        train(TrainConfig.create("dcgan", output=str(tmp_path / "run"), **settings), verbose=0)
    with pytest.raises(UserError, match="every worker must name the same run directory"):
        train(TrainConfig.create("dcgan", **settings), verbose=0)
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow
def test_multiworker_refuses_paired_batches_in_one_line(tmp_path):
    (port,) = _free_ports(1)
    config = {"cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": {"type": "worker",
                                                                     "index": 0}}
    done = subprocess.run(
        [sys.executable, "-m", "tfgan_apps.cli", "train", "pix2pix", "--dataset", "builtin",
         "--image-size", "32", "--batch-size", "4", "--base-filters", "4", "--epochs", "1",
         "--steps-per-epoch", "1", "--quiet", "--no-xla", "--strategy", "multiworker",
         "--output", str(tmp_path / "run")],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_CONFIG": json.dumps(config)},
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("tfgan-apps:")]
    assert errors == [errors[0]] and "trains DCGAN only for now" in errors[0]
    assert "Traceback" not in done.stderr and not os.path.exists(tmp_path / "run")
