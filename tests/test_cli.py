"""The tfgan-apps command line, end to end in subprocesses, and its user errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

TINY = ["--image-size", "16", "--batch-size", "8", "--epochs", "2", "--steps-per-epoch", "2",
        "--base-filters", "8", "--no-xla", "--quiet"]


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfgan_apps.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_train_export_generate_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cli("train", "dcgan", *TINY, "--latent-dim", "8", "--output", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert f"run directory: {run_dir}" in done.stdout
    for name in ("config.json", "model.keras", "history.json", "loss_curves.png",
                 "samples/epoch_0001.png", "samples/epoch_0002.png"):
        assert (run_dir / name).is_file(), name

    export_dir = tmp_path / "saved_models"
    done = run_cli("export", str(run_dir), "--export-dir", str(export_dir))
    assert done.returncode == 0, done.stderr
    assert (export_dir / "dcgan" / "1" / "saved_model.pb").is_file()
    done = run_cli("export", str(run_dir), "--export-dir", str(export_dir), "--name", "faces")
    assert done.returncode == 0 and (export_dir / "faces" / "1").is_dir()

    grid = tmp_path / "grid.png"
    done = run_cli("generate", str(export_dir / "dcgan"), "--num", "9", "--output", str(grid),
                   "--seed", "3")
    assert done.returncode == 0, done.stderr
    picture = np.asarray(Image.open(grid))
    assert picture.shape[0] == 3 * 16 + 4 * 2  # 3x3 grid of 16 px tiles with 2 px padding
    assert picture.std() > 0


@pytest.mark.slow
def test_train_on_an_image_folder(tmp_path):
    folder = tmp_path / "images" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    done = run_cli("train", "dcgan", *TINY, "--data-dir", str(tmp_path / "images"),
                   "--channels", "1", "--output", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "skipped 1 of 11" in done.stderr


@pytest.mark.parametrize("args,message", [
    (["train", "dcgan", "--dataset", "imagenet_nope"], "unknown dataset 'imagenet_nope'"),
    (["train", "dcgan", "--data-dir", "/no/such/dir"], "--data-dir /no/such/dir"),
    (["train", "dcgan", "--batch-size", "0"], "expected a positive integer, got 0"),
    (["train", "dcgan", "--image-size", "30"], "image size 30 is not supported"),
    (["train", "dcgan", "--strategy", "mirrored", "--devices", "/cpu:0", "/cpu:1", "--xla"],
     "--no-xla"),
    (["train", "dcgan", "--dataset", "mnist", "--data-dir", "."], "not allowed with argument"),
    (["train", "gan"], "invalid choice: 'gan'"),
    (["export", "/no/such/run"], "run directory /no/such/run does not exist"),
    (["generate", "/no/such/model"], "model directory /no/such/model does not exist"),
    (["generate", "."], "is not a SavedModel directory"),
    (["generate", ".", "--num", "-1"], "expected a positive integer"),
])
def test_user_errors_are_one_line_and_exit_2(args, message, tmp_path):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr


def test_empty_image_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_cli("train", "dcgan", "--data-dir", str(tmp_path / "empty"), "--image-size", "16")
    assert done.returncode == 2
    assert "empty" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_export_of_a_directory_that_is_not_a_run(tmp_path):
    done = run_cli("export", str(tmp_path))
    assert done.returncode == 2 and "not a training run directory" in done.stderr


def test_help_lists_the_subcommands():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("train", "export", "generate", "quickstart"):
        assert command in done.stdout
    assert not os.environ.get("TFGAN_APPS_DEBUG")
