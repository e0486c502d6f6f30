"""Nothing already written is lost: crashes, NaN, full or read-only disks, concurrent exports,
unloadable model files (issue 10's cases 1, 2, 3, 7, 8 and 10, each reproduced first)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import (
    RunDirectory,
    TrainConfig,
    UserError,
    export_saved_model,
    get_application,
    load_run_model,
    train,
)
from tfgan_apps.atomic import remove_interrupted_writes, temp_prefix, write_json
from tfgan_apps.cli import main
from tfgan_apps.errors import TrainingDivergedError
from tfgan_apps.export import write_saved_model

TINY_FLAGS = ["--dataset", "builtin", "--batch-size", "8", "--image-size", "16", "--channels",
              "1", "--latent-dim", "8", "--base-filters", "8", "--steps-per-epoch", "2",
              "--no-xla", "--quiet"]


def tiny(output, **overrides) -> TrainConfig:
    settings = dict(dataset="builtin", image_size=16, channels=1, batch_size=8, epochs=1,
                    steps_per_epoch=2, latent_dim=8, base_filters=8, xla=False,
                    output=str(output))
    return get_application("dcgan").resolve(TrainConfig.create("dcgan", **{**settings,
                                                                             **overrides}))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch tiny DCGAN run (copy it before changing it)."""
    root = tmp_path_factory.mktemp("finished")
    train(tiny(root / "run", epochs=2), verbose=0)
    return str(root / "run")


@pytest.fixture
def run_copy(finished_run, tmp_path):
    target = str(tmp_path / "run")
    shutil.copytree(finished_run, target)
    return target


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tfgan")]
    assert len(lines) == 1, lines
    return lines[0]


def _dead_pid_name(suffix: str) -> str:
    return f".tmp-{socket.gethostname()}-{2 ** 22 + 12345}-abcd{suffix}"


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.weights]


# ------------------------------------------------------------------ 1. crash consistency
def test_resume_rebuilds_every_file_derived_from_the_checkpoint(run_copy, caplog):
    """Killed after the last checkpoint and before history.json / model.keras / the grid, with
    interrupted model.keras writes left behind: re-running completes the files."""
    run = RunDirectory(run_copy)
    with open(run.history_path) as f:
        history = json.load(f)
    reference = _weights(load_run_model(run_copy))
    # the state a SIGKILL between ckpt-2 and the other epoch-2 files leaves
    write_json({k: v[:1] for k, v in history.items()}, run.history_path)
    os.remove(run.model_path)
    os.remove(os.path.join(run.samples_dir, "epoch_0002.png"))
    stale = [os.path.join(run_copy, _dead_pid_name(".keras")),
             os.path.join(run_copy, ".tmp-k3j4l5.keras"),  # the older naming
             os.path.join(run.samples_dir, _dead_pid_name(".png"))]
    for path in stale:
        open(path, "wb").write(b"partial")

    with caplog.at_level("INFO", logger="tfgan_apps"):
        result = train(tiny(run_copy, epochs=2), verbose=0)
    assert any("nothing to train; checking and completing its files" in r.getMessage()
               for r in caplog.records)
    with open(run.history_path) as f:
        assert json.load(f) == history
    assert result.history == history
    for got, want in zip(_weights(load_run_model(run_copy)), reference, strict=True):
        np.testing.assert_array_equal(got, want)
    assert os.path.isfile(os.path.join(run.samples_dir, "epoch_0002.png"))
    assert not any(os.path.exists(p) for p in stale)


def test_history_lost_between_checkpoint_and_history_is_not_shifted(run_copy):
    """history.json one epoch behind the checkpoint: the resumed run's history has one entry
    per epoch, from the checkpoint (before: epoch 2 lost and the rest shifted)."""
    run = RunDirectory(run_copy)
    with open(run.history_path) as f:
        history = json.load(f)
    write_json({k: v[:1] for k, v in history.items()}, run.history_path)
    result = train(tiny(run_copy, epochs=3), verbose=0)
    assert all(len(v) == 3 for v in result.history.values())
    assert all(result.history[k][:2] == v for k, v in history.items())


def test_resume_says_what_it_will_do_and_records_it(run_copy, capsys):
    flags = [f for f in TINY_FLAGS if f != "--quiet"]
    assert main(["train", "dcgan", *flags, "--epochs", "1", "--output", run_copy]) == 0
    err = capsys.readouterr().err
    assert (f"tfgan-apps: {run_copy} has finished 2 epoch(s), and 1 are asked (changed: epochs "
            "2 -> 1): nothing to train") in err
    with open(os.path.join(run_copy, "config.json")) as f:
        record = json.load(f)
    assert record["epochs"] == 2  # what the run was is never overwritten
    assert record["resumes"][-1]["changed"] == {"epochs": [2, 1]}
    assert main(["train", "dcgan", *flags, "--epochs", "3", "--output", run_copy]) == 0
    assert (f"tfgan-apps: resuming {run_copy} after epoch 2: 1 more epoch(s) to 3 (changed: "
            "epochs 2 -> 3)") in capsys.readouterr().err
    # a setting that cannot change is refused before anything is written
    assert main(["train", "dcgan", *TINY_FLAGS, "--epochs", "3", "--learning-rate", "1e-3",
                 "--output", run_copy]) == 2
    assert "was trained with learning_rate=0.0002; this run asks for 0.001" in (
        _one_error_line(capsys))


# --------------------------------------------------------------------------------- 2. NaN
class _ExplodeAtEpoch(keras.callbacks.Callback):
    """Set both learning rates to 1e30 when ``epoch`` begins (a run that diverges there)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            for optimizer in (self.model.d_optimizer, self.model.g_optimizer):
                optimizer.learning_rate.assign(1e30)


def test_a_diverging_epoch_stops_the_run_and_leaves_the_good_files(run_copy):
    run = RunDirectory(run_copy)
    before = {p: open(os.path.join(run_copy, p), "rb").read()
              for p in ("model.keras", "history.json")}
    checkpoints = sorted(os.listdir(run.checkpoints_dir))
    with pytest.raises(TrainingDivergedError, match=r"training diverged at epoch 3, batch \d: "
                       r"\w+ is (nan|inf)"):
        train(tiny(run_copy, epochs=4), callbacks=[_ExplodeAtEpoch(2)], verbose=0)
    for path, data in before.items():
        assert open(os.path.join(run_copy, path), "rb").read() == data, path
    assert sorted(os.listdir(run.checkpoints_dir)) == checkpoints
    assert not os.path.exists(os.path.join(run.samples_dir, "epoch_0003.png"))
    model = load_run_model(run_copy)
    assert all(np.isfinite(w).all() for w in _weights(model))
    export_saved_model(model, str(run_copy) + "-export")  # still exportable


def test_cli_huge_learning_rate_exits_with_one_line(tmp_path, capsys):
    output = tmp_path / "run"
    assert main(["train", "dcgan", *TINY_FLAGS, "--learning-rate", "inf", "--output",
                 str(output)]) == 2
    assert "--learning-rate must be a finite number, got inf" in _one_error_line(capsys)
    assert main(["train", "dcgan", *TINY_FLAGS, "--epochs", "2", "--learning-rate", "1e30",
                 "--output", str(output)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("tfgan-apps: error: training diverged at epoch 1, batch ")
    assert "no epoch had finished, so no model was saved" in line
    assert not os.path.exists(output / "model.keras")
    assert not os.path.exists(output / "checkpoints" / "checkpoint")


def test_export_refuses_non_finite_weights(finished_run, tmp_path):
    model = load_run_model(finished_run)
    weight = model.generator.trainable_weights[0]
    weight.assign(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(UserError, match=r"weight .+ has non-finite values \(NaN or infinity\)"):
        export_saved_model(model, str(tmp_path / "exports"))
    assert not os.path.exists(tmp_path / "exports" / "dcgan" / "1")


# ---------------------------------------------------------------------- 7. two exports
class _ArchiveThatLosesTheRace:
    """An ``ExportArchive`` stand-in: while it writes, another export takes version 1."""

    def __init__(self, model_root: str) -> None:
        self.model_root = model_root

    def write_out(self, path, verbose=False):
        open(os.path.join(path, "saved_model.pb"), "wb").write(b"ours")
        os.makedirs(os.path.join(self.model_root, "1"))
        open(os.path.join(self.model_root, "1", "saved_model.pb"), "wb").write(b"theirs")


def test_an_export_that_loses_the_race_takes_the_next_version(tmp_path):
    root = tmp_path / "exports" / "m"
    path = write_saved_model(_ArchiveThatLosesTheRace(str(root)), str(tmp_path / "exports"), "m")
    assert path == str(root / "2")
    assert open(root / "1" / "saved_model.pb", "rb").read() == b"theirs"
    assert open(root / "2" / "saved_model.pb", "rb").read() == b"ours"
    assert sorted(os.listdir(root)) == ["1", "2"]  # no temporary directory left


def test_a_given_version_taken_meanwhile_is_one_line_and_nothing_is_left(tmp_path):
    root = tmp_path / "exports" / "m"
    with pytest.raises(UserError, match=r"m/1 already exists; choose another version"):
        write_saved_model(_ArchiveThatLosesTheRace(str(root)), str(tmp_path / "exports"), "m",
                          version=1)
    assert sorted(os.listdir(root)) == ["1"]


def test_killed_exports_leave_nothing_the_next_export_keeps(tmp_path):
    root = tmp_path / "exports" / "m"
    dead = root / _dead_pid_name("")
    alive = root / f".tmp-{socket.gethostname()}-{os.getppid()}-abcd"  # a running exporter
    other_host = root / ".tmp-some-other-host-123-abcd"
    for d in (dead, alive, other_host):
        os.makedirs(d / "variables")
    assert remove_interrupted_writes(str(root)) == [str(dead)]
    assert sorted(os.listdir(root)) == sorted([alive.name, other_host.name])


@pytest.mark.slow
def test_two_cli_exports_at_once_get_two_versions(finished_run, tmp_path):
    import subprocess
    import sys

    export_dir = str(tmp_path / "exports")
    command = [sys.executable, "-m", "tfgan_apps.cli", "export", finished_run, "--export-dir",
               export_dir]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(os.listdir(os.path.join(export_dir, "dcgan"))) == ["1", "2"]
    for version in ("1", "2"):
        tf.saved_model.load(os.path.join(export_dir, "dcgan", version))


# ------------------------------------------------------------------ 8. full or read-only
def _enospc_on_second_save(monkeypatch):
    calls = []
    save = keras.Model.save

    def full_disk_save(self, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == 2:
            open(filepath, "wb").write(b"\0" * 4096)  # what fitted before the disk was full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", full_disk_save)
    return calls


def test_disk_full_while_writing_the_model_keeps_the_previous_one(tmp_path, monkeypatch,
                                                                    capsys):
    output = tmp_path / "run"
    calls = _enospc_on_second_save(monkeypatch)
    assert main(["train", "dcgan", *TINY_FLAGS, "--epochs", "3", "--output", str(output)]) == 2
    line = _one_error_line(capsys)
    assert line == (f"tfgan-apps: error: cannot write model {output / 'model.keras'}: No space "
                    "left on device (free some space or choose another directory; files "
                    "written before are unchanged)")
    assert len(calls) == 2
    assert not [f for f in os.listdir(output) if f.startswith(".tmp")]
    load_run_model(str(output))  # epoch 1's model, intact
    monkeypatch.undo()
    assert main(["train", "dcgan", *TINY_FLAGS, "--epochs", "3", "--output", str(output)]) == 0


def test_read_only_output_and_export_dir_are_one_line(finished_run, tmp_path, monkeypatch,
                                                      capsys):
    read_only = str(tmp_path / "ro")
    makedirs = os.makedirs

    def refuse(path, *args, **kwargs):
        if os.fspath(path).startswith(read_only):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return makedirs(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", refuse)
    assert main(["train", "dcgan", *TINY_FLAGS, "--output", f"{read_only}/run"]) == 2
    assert "Read-only file system (choose a writable directory" in _one_error_line(capsys)
    assert main(["export", finished_run, "--export-dir", f"{read_only}/exports"]) == 2
    assert _one_error_line(capsys) == (
        f"tfgan-apps: error: cannot write directory {read_only}/exports/dcgan: Read-only file "
        "system (choose a writable directory; files written before are unchanged)")


def test_disk_full_during_export_leaves_no_temporary_directory(finished_run, tmp_path,
                                                               monkeypatch, capsys):
    def full_disk(self, path, *args, **kwargs):
        open(os.path.join(path, "saved_model.pb"), "wb").write(b"\0" * 4096)
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{path}/saved_model.pb.tmp123; No space left on device")

    # (keras.export.ExportArchive() is an instance of the backend's subclass)
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", full_disk)
    export_dir = tmp_path / "exports"
    assert main(["export", finished_run, "--export-dir", str(export_dir)]) == 2
    assert _one_error_line(capsys) == (
        f"tfgan-apps: error: cannot write SavedModel {export_dir / 'dcgan'}: No space left on "
        "device (free some space or choose another directory; files written before are "
        "unchanged)")
    assert os.listdir(export_dir / "dcgan") == []


# -------------------------------------------------------------------- 10. files and JSON
def test_json_is_standard_and_files_follow_the_umask(finished_run, tmp_path):
    path = write_json({"a": float("nan"), "b": np.float32(np.inf), "c": [1.5, np.nan],
                       "d": np.arange(2)}, str(tmp_path / "x.json"))

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    with open(path) as f:
        assert json.loads(f.read(), parse_constant=refuse) == {
            "a": None, "b": None, "c": [1.5, None], "d": [0, 1]}
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    for name in ("config.json", "history.json", "model.keras", "loss_curves.png",
                 "samples/epoch_0001.png", path):
        mode = os.stat(os.path.join(finished_run, name)).st_mode & 0o777
        assert mode == expected, (name, oct(mode))


def test_temporary_files_are_named_after_their_writer():
    assert temp_prefix() == f".tmp-{socket.gethostname()}-{os.getpid()}-"


@pytest.mark.parametrize("make_file, reason", [
    (lambda path: keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
     .save(path), "Lambda"),
    (lambda path: open(path, "wb").write(b"not a zip file"), "cannot load"),
])
def test_an_unloadable_model_file_is_one_line(tmp_path, capsys, make_file, reason):
    run = tmp_path / "run"
    os.makedirs(run)
    make_file(str(run / "model.keras"))
    assert main(["export", str(run), "--export-dir", str(tmp_path / "exports")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"tfgan-apps: error: cannot load {run / 'model.keras'}: ")
    assert reason in line


# --------------------------------------------------------------- 9. a network too large
@pytest.mark.parametrize("size, width, upsampling", [(32, 64, "upsample"), (64, 16, "transpose"),
                                                     (28, 8, "upsample")])
def test_network_size_estimate_is_exact(size, width, upsampling):
    from tfgan_apps.memory import activation_values, scaled_network_size
    from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator

    def build(w):
        return [build_dcgan_generator(size, 3, 100, w, upsampling=upsampling),
                build_dcgan_discriminator(size, 3, w)]

    networks = build(width)
    assert scaled_network_size(build, width) == (
        sum(n.count_params() for n in networks), sum(activation_values(n) for n in networks))


@pytest.mark.slow
def test_an_image_size_that_cannot_fit_is_refused_before_building(tmp_path):
    import subprocess
    import sys

    output = tmp_path / "run"
    # The CLI runs under a small Python parent that prints its peak RSS: a child's ru_maxrss
    # starts from its parent's RSS at fork, gigabytes for this test session's process.
    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
               " sys.exit(done.returncode)")
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m",
                           "tfgan_apps.cli", "train", "dcgan", "--image-size", "4096",
                           "--quiet", "--output", str(output)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("tfgan-apps")]
    assert len(lines) == 1 and lines[0].startswith(
        "tfgan-apps: error: --image-size 4096 with these settings needs an estimated "), lines
    assert "parameters with their gradients and Adam state" in lines[0]
    assert lines[0].endswith("lower --image-size, --base-filters or --batch-size")
    assert not output.exists()
    # building the networks themselves would take more than 7 GB before the first step
    assert int(done.stderr.strip().splitlines()[-1]) < 4 * 1024 ** 2  # KB
