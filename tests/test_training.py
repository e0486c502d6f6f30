"""training.py: configuration checks, strategy/XLA selection, run directories, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import TrainConfig, UserError, train
from tfgan_apps.training import make_strategy, resolve_xla


def tiny_config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(dataset="builtin", image_size=16, channels=1, batch_size=8,
                    epochs=2, steps_per_epoch=2, latent_dim=8, base_filters=8,
                    output=str(tmp_path / "run"), xla=False)
    settings.update(overrides)
    return TrainConfig.create(settings.pop("app", "dcgan"), **settings)


def test_xla_is_refused_for_several_cpu_replicas():
    mirrored = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    with pytest.raises(ValueError, match="--no-xla"):
        resolve_xla(True, mirrored)
    assert resolve_xla(None, mirrored) is False
    assert resolve_xla(False, mirrored) is False
    one = make_strategy("default")
    # off by default on CPU (measured slower than oneDNN), on when asked
    assert resolve_xla(None, one) is False
    assert resolve_xla(True, one) is True
    assert resolve_xla(False, one) is False


@pytest.mark.parametrize("field,value,message", [
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("channels", 2, r"channels must be one of \[1, 3\]"),
    ("strategy", "tpu", "unknown strategy 'tpu'"),
    ("learning_rate", -1.0, "learning_rate must be positive"),
])
def test_config_validation(tmp_path, field, value, message):
    with pytest.raises(UserError, match=message):
        tiny_config(tmp_path, **{field: value}).validate()


def test_unknown_application(tmp_path):
    with pytest.raises(UserError, match="unknown application 'vae'"):
        tiny_config(tmp_path, app="vae")


def test_train_writes_the_run_directory(tmp_path):
    result = train(tiny_config(tmp_path), verbose=0)
    run = result.run_dir
    for name in ("config.json", "history.json", "loss_curves.png", "model.keras", "report.html",
                 "samples/epoch_0001.png", "samples/epoch_0002.png"):
        assert os.path.isfile(os.path.join(run, name)), name
    assert os.listdir(os.path.join(run, "logs", "train"))  # TensorBoard scalars
    assert os.listdir(os.path.join(run, "logs", "samples"))  # TensorBoard images
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["app"] == "dcgan" and config["resolved"]["jit_compile"] is False
    history = json.load(open(os.path.join(run, "history.json")))
    assert len(history["d_loss"]) == 2 and set(history) >= {"d_loss", "g_loss"}
    reloaded = keras.models.load_model(os.path.join(run, "model.keras"), safe_mode=True)
    assert int(reloaded.g_optimizer.iterations) == 4


def test_checkpoint_cadence(tmp_path):
    result = train(tiny_config(tmp_path, epochs=3, checkpoint_every=2, checkpoints_to_keep=5),
                   verbose=0)
    saved = sorted(f.split(".")[0] for f in os.listdir(os.path.join(result.run_dir,
                                                                      "checkpoints"))
                   if f.startswith("ckpt-") and f.endswith(".index"))
    assert saved == ["ckpt-2", "ckpt-3"]  # every 2 epochs, and the last


class _Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("simulated crash")


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    config = tiny_config(tmp_path, epochs=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, callbacks=[_Crash()], verbose=0)
    assert os.path.isfile(os.path.join(config.output, "checkpoints", "checkpoint"))
    result = train(config, verbose=0)
    # Finished epochs are not run again and the optimizers' step counters carry on, so the
    # total is exactly the uninterrupted run's number of steps.
    assert int(result.model.d_optimizer.iterations) == 3 * 2
    history = json.load(open(os.path.join(config.output, "history.json")))
    assert len(history["d_loss"]) == 3


_EXACT_RESUME = """
import sys
import keras, numpy as np, pytest
sys.path.insert(0, {tests!r})
from test_training import _Crash, tiny_config
from tfgan_apps import train
import pathlib
tmp = pathlib.Path({tmp!r})
whole = train(tiny_config(tmp / "whole", epochs=3, deterministic=True), verbose=0)
config = tiny_config(tmp / "split", epochs=3, deterministic=True)
try:
    train(config, callbacks=[_Crash()], verbose=0)
except RuntimeError:
    pass
resumed = train(config, verbose=0)
for a, b in zip(whole.model.weights, resumed.model.weights, strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
print("EXACT")
"""


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    # --deterministic turns on TF op determinism for the whole process: keep it out of ours.
    script = _EXACT_RESUME.format(tests=os.path.dirname(__file__), tmp=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and "EXACT" in done.stdout, done.stderr[-3000:]


def test_mirrored_training_on_two_logical_cpus(tmp_path):
    result = train(tiny_config(tmp_path, strategy="mirrored", devices=["/cpu:0", "/cpu:1"]),
                   verbose=0)
    config = json.load(open(os.path.join(result.run_dir, "config.json")))
    assert config["resolved"]["replicas"] == 2
    assert tf.reduce_all(tf.math.is_finite(result.model.generate(2)))


class _CrashMidEpoch(keras.callbacks.Callback):
    """Crash in the second epoch, after its step checkpoint at global step 6 (batch 2 of 4)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == 1 and batch == 2:
            raise RuntimeError("simulated crash")


class _TrackerCounts(keras.callbacks.Callback):
    """The number of values the d_loss tracker has averaged after each batch of epoch 2."""

    def __init__(self):
        super().__init__()
        self.counts = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == 1:
            self.counts.append(float(np.asarray(self.model.trackers["d_loss"].count)))


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_a_crash_mid_epoch_resumes_from_the_step_checkpoint(tmp_path, strategy):
    devices = ["/cpu:0", "/cpu:1"] if strategy == "mirrored" else None
    settings = dict(epochs=3, steps_per_epoch=4, checkpoint_every_steps=3,
                    step_checkpoints_to_keep=2, strategy=strategy, devices=devices)
    whole_counts = _TrackerCounts()
    train(tiny_config(tmp_path / "whole", **settings), callbacks=[whole_counts], verbose=0)
    config = tiny_config(tmp_path / "split", **settings)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, callbacks=[_CrashMidEpoch()], verbose=0)
    steps_dir = os.path.join(config.output, "checkpoints", "steps")
    assert sorted(f for f in os.listdir(steps_dir) if f.endswith(".index")) == [
        "step-3.index", "step-6.index"]
    resumed_counts = _TrackerCounts()
    resumed = train(config, callbacks=[resumed_counts], verbose=0)
    record = json.load(open(os.path.join(config.output, "config.json")))
    assert record["resumes"][-1]["from_epoch"] == 1
    assert record["resumes"][-1]["from_batch"] == 2
    # the interrupted epoch ran only its last 2 steps, and the total is the uninterrupted one
    assert int(np.asarray(resumed.model.d_optimizer.iterations)) == 3 * 4
    # and its trackers went on from the 2 values of the steps before the crash, so its logged
    # averages cover all 4 steps (exactness of the values: tests/test_kill_resume.py)
    assert resumed_counts.counts == whole_counts.counts[2:]
    assert len(resumed.history["d_loss"]) == 3


def test_step_checkpoints_need_a_known_epoch_length(tmp_path, monkeypatch):
    from tfgan_apps import training

    monkeypatch.setattr(training, "_batches_per_pass", lambda dataset: None)
    with pytest.raises(UserError, match="checkpoint_every_steps.*steps_per_epoch"):
        train(tiny_config(tmp_path, checkpoint_every_steps=2, steps_per_epoch=None), verbose=0)
    assert not os.path.exists(os.path.join(tmp_path, "run", "checkpoints"))
