"""runs.py: the run directory's record and the resume options check (before any write)."""

from __future__ import annotations

import json
import os

import pytest

from tfgan_apps import RunDirectory, TrainConfig, UserError, get_application, train
from tfgan_apps.cli import main


def tiny(tmp_path, **overrides) -> TrainConfig:
    settings = dict(dataset="builtin", image_size=16, channels=1, batch_size=8, epochs=1,
                    steps_per_epoch=1, latent_dim=8, base_filters=8, xla=False,
                    output=str(tmp_path / "run"))
    return get_application("dcgan").resolve(TrainConfig.create("dcgan", **{**settings,
                                                                             **overrides}))


def _tree(root) -> dict[str, float]:
    return {os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
            for d, _, files in os.walk(root) for f in files}


def test_check_resume_refuses_other_options_and_allows_resumable_ones(tmp_path):
    run = RunDirectory(str(tmp_path / "run"))
    assert run.check_resume(tiny(tmp_path)) == {}  # a new directory
    run.write_record(tiny(tmp_path), {"data": {}}, {}, 0)
    assert run.check_resume(tiny(tmp_path)) == {}
    with pytest.raises(UserError) as caught:
        run.check_resume(tiny(tmp_path, image_size=32))
    assert caught.value.option == "output"
    assert caught.value.describe({"output": "--output"}).startswith(
        f"--output {run.path} was trained with image_size=16; this run asks for 32")
    with pytest.raises(UserError, match="with image_size=16, base_filters=8; this run asks "
                       "for 32, 16"):
        run.check_resume(tiny(tmp_path, image_size=32, base_filters=16))
    with pytest.raises(UserError, match="was trained with app=dcgan; this run asks for pix2pix"):
        run.check_resume(get_application("pix2pix").resolve(
            TrainConfig.create("pix2pix", output=run.path)))
    assert run.check_resume(tiny(tmp_path, epochs=3, sample_every=2)) == {
        "epochs": (1, 3), "sample_every": (1, 2)}


def test_unknown_keys_in_config_json_are_an_error(tmp_path):
    run = RunDirectory(str(tmp_path))
    run.write_record(tiny(tmp_path), {}, {}, 0)
    record = json.loads(open(run.config_path).read())
    record["options"]["residual_blocks"] = 3
    with open(run.config_path, "w") as f:
        json.dump(record, f)
    with pytest.raises(UserError, match=r"unknown dcgan option\(s\) \['residual_blocks'\]"):
        run.read_config()


@pytest.mark.slow
def test_resume_with_other_options_touches_nothing_and_a_longer_run_is_recorded(tmp_path):
    first = train(tiny(tmp_path), verbose=0)
    before = _tree(first.run_dir)
    record = open(os.path.join(first.run_dir, "config.json")).read()
    with pytest.raises(UserError, match="was trained with base_filters=8"):
        train(tiny(tmp_path, base_filters=16), verbose=0)
    assert _tree(first.run_dir) == before
    assert open(os.path.join(first.run_dir, "config.json")).read() == record

    longer = train(tiny(tmp_path, epochs=2), verbose=0)
    assert len(longer.history["d_loss"]) == 2
    saved = json.loads(open(os.path.join(first.run_dir, "config.json")).read())
    assert saved["epochs"] == 1  # what the run was is never overwritten
    assert saved["resumes"][-1]["from_epoch"] == 1
    assert saved["resumes"][-1]["changed"] == {"epochs": [1, 2]}


@pytest.mark.parametrize("make_output, message", [
    (lambda tmp: (tmp / "a-file").write_text("x") and tmp / "a-file",
     "is a file, not a run directory"),
])
def test_cli_output_that_is_a_file(tmp_path, capsys, make_output, message):
    output = make_output(tmp_path)
    assert main(["train", "dcgan", "--output", str(output), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == f"tfgan-apps: error: --output {output} {message}: " \
        "choose another output directory"


def test_cli_resume_with_another_image_size(tmp_path, capsys):
    run = RunDirectory(str(tmp_path / "run"))
    run.write_record(tiny(tmp_path, image_size=64), {}, {}, 0)
    assert main(["train", "dcgan", "--output", run.path, "--image-size", "16",
                 "--channels", "1", "--batch-size", "8", "--epochs", "1", "--latent-dim", "8",
                 "--base-filters", "8", "--steps-per-epoch", "1", "--dataset", "builtin",
                 "--no-xla", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"tfgan-apps: error: --output {run.path} was trained with "
                             "image_size=64; this run asks for 16")
    assert sorted(os.listdir(run.path)) == ["config.json"]


def test_cli_output_under_a_file_is_the_systems_reason(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    output = tmp_path / "a-file" / "run"
    assert main(["train", "dcgan", "--output", str(output), "--dataset", "builtin",
                 "--batch-size", "8", "--image-size", "16", "--latent-dim", "8",
                 "--base-filters", "8", "--epochs", "1", "--steps-per-epoch", "1", "--no-xla",
                 "--quiet"]) == 2
    # (TFDS may first report preparing the built-in set on stderr)
    err = [line for line in capsys.readouterr().err.splitlines() if "tfgan-apps" in line]
    assert len(err) == 1 and err[0].startswith("tfgan-apps: error: Not a directory: ")
