"""``tfgan-apps train pix2pix``, ``export`` and ``segment`` end to end, and their user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

TINY = ["--image-size", "32", "--batch-size", "4", "--epochs", "2", "--steps-per-epoch", "2",
        "--base-filters", "4", "--no-xla", "--quiet"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfgan_apps.cli", *args], capture_output=True,
                          text=True, timeout=900)


def write_pairs(root, count=6, size=(40, 48)):
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        mask = rng.integers(0, 3, size, dtype=np.uint8)
        Image.fromarray(mask, mode="L").save(masks / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(images / f"{i}.jpg")
    return images, masks


@pytest.mark.slow
def test_train_export_segment_on_the_builtin_dataset(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cli("train", "pix2pix", *TINY, "--output", str(run_dir))
    assert done.returncode == 0, done.stderr
    for name in ("config.json", "model.keras", "history.json", "loss_curves.png",
                 "samples/epoch_0001.png", "samples/epoch_0002.png"):
        assert (run_dir / name).is_file(), name
    history = json.loads((run_dir / "history.json").read_text())
    for key in ("ce_loss", "mean_iou", "val_mean_iou", "val_pixel_accuracy",
                "val_iou_class_3", "d_loss"):
        assert len(history[key]) == 2, key
    config = json.loads((run_dir / "config.json").read_text())
    data = config["resolved"]["data"]
    assert data["num_classes"] == 4 and data["mode"] == "segmentation"
    assert config["batch_size"] == 4 and config["xla"] is False
    # The final report: per-class IoU on the validation (test) split, by class name.
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert list(evaluation["per_class_iou"]) == ["background", "disc", "square", "triangle"]
    assert 0.0 <= evaluation["mean_iou"] <= 1.0 and 0.0 <= evaluation["pixel_accuracy"] <= 1.0
    confusion = np.asarray(evaluation["confusion_matrix"])
    assert confusion.shape == (4, 4) and confusion.sum() == 1000 * 32 * 32  # every test pixel
    assert "IoU per class:" in done.stdout and "triangle" in done.stdout
    # 8 rows of input | true mask | predicted mask, 32 px tiles, 2 px padding.
    grid = np.asarray(Image.open(run_dir / "samples" / "epoch_0002.png"))
    assert grid.shape[:2] == (8 * 34 + 2, 3 * 34 + 2)

    export_dir = tmp_path / "saved_models"
    done = run_cli("export", str(run_dir), "--export-dir", str(export_dir))
    assert done.returncode == 0, done.stderr
    assert (export_dir / "pix2pix" / "1" / "saved_model.pb").is_file()

    inputs = tmp_path / "photos"
    (inputs / "nested").mkdir(parents=True)
    rng = np.random.default_rng(1)
    sizes = {"a.png": (50, 70), "nested/b.jpg": (33, 20)}
    for name, (height, width) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
            inputs / name)
    (inputs / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "masks"
    done = run_cli("segment", str(export_dir / "pix2pix"), str(inputs), str(out), "--overlay")
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stderr and "broken.png" in done.stderr
    for name, (height, width) in sizes.items():
        mask = Image.open(out / (os.path.splitext(name)[0] + ".png"))
        assert mask.mode == "P" and mask.size == (width, height)  # indexed, original size
        assert set(np.unique(np.asarray(mask))) <= {0, 1, 2, 3}
        overlay = Image.open(out / (os.path.splitext(name)[0] + "_overlay.png"))
        assert overlay.size == (width, height)

    single = tmp_path / "one.png"
    done = run_cli("segment", str(export_dir / "pix2pix" / "1"), str(inputs / "a.png"),
                   str(single))
    assert done.returncode == 0, done.stderr
    assert Image.open(single).size == (70, 50)
    done = run_cli("segment", str(export_dir / "pix2pix"), str(inputs / "broken.png"),
                   str(single))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("tfgan-apps: error: cannot segment")


@pytest.mark.slow
def test_train_on_folders_and_aligned_pairs(tmp_path):
    images, masks = write_pairs(tmp_path)
    done = run_cli("train", "pix2pix", *TINY, "--images", str(images), "--masks", str(masks),
                   "--num-classes", "3", "--adversarial-weight", "0",
                   "--output", str(tmp_path / "seg"))
    assert done.returncode == 0, done.stderr
    history = json.loads((tmp_path / "seg" / "history.json").read_text())
    assert "ce_loss" in history and "d_loss" not in history  # the CE-only ablation

    aligned = tmp_path / "aligned"
    aligned.mkdir()
    rng = np.random.default_rng(2)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (24, 48, 3), dtype=np.uint8)).save(
            aligned / f"{i}.png")
    done = run_cli("train", "pix2pix", *TINY, "--aligned-dir", str(aligned), "--direction",
                   "BtoA", "--output", str(tmp_path / "translation"))
    assert done.returncode == 0, done.stderr
    history = json.loads((tmp_path / "translation" / "history.json").read_text())
    assert "l1_loss" in history


@pytest.mark.parametrize("args, message", [
    (["--images", "{tmp}/images"], "--images and --masks go together"),
    (["--images", "{tmp}/images", "--masks", "{tmp}/masks"], "--num-classes is required"),
    (["--images", "{tmp}/images", "--masks", "{tmp}/masks", "--num-classes", "2"],
     "num_classes=2"),
    (["--images", "{tmp}/nowhere", "--masks", "{tmp}/masks"], "--images"),
    (["--dataset", "voc"], "unknown segmentation dataset 'voc'"),
    (["--image-size", "48"], "power of two"),
    (["--dataset", "builtin", "--images", "{tmp}/images"], "not allowed with"),
])
def test_user_errors_are_one_line_and_exit_2(args, message, tmp_path, capsys):
    from tfgan_apps.cli import main

    write_pairs(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["train", "pix2pix", *args, "--output", str(tmp_path / "run"), "--quiet"]) == 2
    stderr = capsys.readouterr().err.strip().splitlines()
    assert len(stderr) == 1 and message in stderr[0], stderr


def test_segment_user_errors(tmp_path, capsys):
    from tfgan_apps.cli import main

    assert main(["segment", str(tmp_path / "none"), str(tmp_path), str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_new_flags_reach_the_config_over_a_preset():
    from tfgan_apps.cli import build_parser, config_from_args

    args = build_parser().parse_args([
        "train", "pix2pix", "--preset", "paper", "--max-filters", "128",
        "--discriminator-filters", "16", "--discriminator-layers", "2", "--lr-decay", "linear",
        "--label-smoothing", "0.1", "--instance-noise", "0.05", "--d-learning-rate", "1e-4"])
    config = config_from_args(args)
    options = config.options
    assert (options.max_filters, options.discriminator_filters) == (128, 16)
    assert (options.discriminator_layers, options.lr_decay) == (2, "linear")
    assert (options.label_smoothing, options.instance_noise) == (0.1, 0.05)
    assert config.d_learning_rate == 1e-4 and config.preset == "paper"
    assert options.base_filters == 64 and options.dropout == 0.5  # the rest: the paper's
