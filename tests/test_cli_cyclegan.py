"""`tfgan-apps train cyclegan`, `export` and `translate`, end to end in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

TINY = ["--image-size", "32", "--epochs", "2", "--steps-per-epoch", "2", "--base-filters", "4",
        "--residual-blocks", "1", "--pool-size", "2", "--no-xla", "--quiet"]


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfgan_apps.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=900)


def write_images(folder, sizes, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (height, width) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")


@pytest.mark.slow
def test_train_export_translate_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cli("train", "cyclegan", *TINY, "--output", str(run_dir))
    assert done.returncode == 0, done.stderr
    for name in ("config.json", "model.keras", "history.json", "loss_curves.png",
                 "samples/epoch_0001.png", "samples/epoch_0002.png"):
        assert (run_dir / name).is_file(), name
    history = json.loads((run_dir / "history.json").read_text())
    assert {"g_ab_loss", "g_ba_loss", "d_a_loss", "d_b_loss", "cycle_loss", "identity_loss",
            "learning_rate"} <= set(history)
    assert history["learning_rate"][0] == pytest.approx(2e-4) and history["learning_rate"][1] == 0
    grid = np.asarray(Image.open(run_dir / "samples" / "epoch_0002.png"))
    assert grid.shape[:2] == (4 * 32 + 5 * 2, 6 * 32 + 7 * 2)  # 4 rows x 6 columns

    export_dir = tmp_path / "saved_models"
    done = run_cli("export", str(run_dir), "--export-dir", str(export_dir))
    assert done.returncode == 0, done.stderr
    assert (export_dir / "cyclegan" / "1" / "saved_model.pb").is_file()

    photos = tmp_path / "photos"
    write_images(photos, [(97, 131)], seed=1)
    write_images(photos / "nested", [(40, 30)], seed=2)
    (photos / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out.png"
    done = run_cli("translate", str(export_dir / "cyclegan"), str(photos / "0.png"), str(out))
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (131, 97)

    done = run_cli("translate", str(export_dir / "cyclegan"), str(photos), str(tmp_path / "b2a"),
                   "--direction", "b2a", "--tile", "32")
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stderr and "broken.png" in done.stderr
    assert Image.open(tmp_path / "b2a" / "0.png").size == (131, 97)
    assert Image.open(tmp_path / "b2a" / "nested" / "0.png").size == (30, 40)

    # a run directory works too (the Keras model, no export needed)
    done = run_cli("translate", str(run_dir), str(photos / "0.png"), str(tmp_path / "run.png"),
                   "--tile", "64")
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "run.png").size == (131, 97)


@pytest.mark.slow
def test_train_on_two_folders(tmp_path):
    write_images(tmp_path / "a", [(40, 50), (33, 33), (60, 20)], seed=3)
    write_images(tmp_path / "b", [(45, 45)] * 5, seed=4)
    done = run_cli("train", "cyclegan", *TINY, "--data-dir-a", str(tmp_path / "a"),
                   "--data-dir-b", str(tmp_path / "b"), "--output", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["app"] == "cyclegan" and config["options"]["data_dir_a"] == str(tmp_path / "a")


@pytest.mark.parametrize("args, message", [
    (["train", "cyclegan", "--data-dir-a", "/nonexistent/a", "--data-dir-b", "/tmp"],
     "--data-dir-a /nonexistent/a: no such directory"),
    (["train", "cyclegan", "--data-dir-a", "/tmp"], "give both --data-dir-a and --data-dir-b"),
    (["train", "cyclegan", "--dataset", "cycle_gan/horse2zebra", "--data-dir-a", "/tmp",
      "--data-dir-b", "/tmp"], "not both"),
    (["train", "cyclegan", "--dataset", "mnist", "--epochs", "1"], "unknown unpaired dataset"),
    (["translate", "/nonexistent/model", "in.png", "out.png"], "does not exist"),
    (["translate", "/tmp", "in.png", "out.png", "--direction", "sideways"], "invalid choice"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    done = run_cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("tfgan-apps")]
    assert len(lines) == 1 and message in lines[0], done.stderr
