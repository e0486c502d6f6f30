"""train() with the CycleGAN recipe: run directory, LR schedule, exact resume with the pools."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tfgan_apps import TrainConfig, train


def tiny_cyclegan_config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(dataset="builtin", image_size=32, epochs=2, steps_per_epoch=3,
                    base_filters=4, output=str(tmp_path / "run"), xla=False,
                    num_residual_blocks=1, pool_size=2, discriminator_filters=4)
    settings.update(overrides)
    return TrainConfig.create("cyclegan", **settings)


@pytest.mark.slow
def test_train_cyclegan_writes_the_run_and_follows_the_schedule(tmp_path):
    result = train(tiny_cyclegan_config(tmp_path, epochs=4, decay_start_epoch=1), verbose=0)
    for name in ("config.json", "history.json", "loss_curves.png", "model.keras",
                 "samples/epoch_0001.png", "samples/epoch_0004.png"):
        assert os.path.isfile(os.path.join(result.run_dir, name)), name
    history = json.load(open(os.path.join(result.run_dir, "history.json")))
    # the rate at the end of epochs 1..4 of 3 steps: constant to epoch 1, then linear to 0
    assert history["learning_rate"] == pytest.approx([2e-4, 2e-4 * 2 / 3, 2e-4 / 3, 0.0])
    assert int(result.model.pool_a.count) == 2
    config = json.load(open(os.path.join(result.run_dir, "config.json")))
    assert config["image_size"] == 32 and config["resolved"]["model_class"] == "CycleGAN"
    # the application's defaults, as the CLI's: LSGAN at batch 1
    assert config["batch_size"] == 1 and config["options"]["loss"] == "least_squares"


_EXACT_RESUME = """
import sys, pathlib
import numpy as np
sys.path.insert(0, {tests!r})
from test_training import _Crash
from test_training_cyclegan import tiny_cyclegan_config
from tfgan_apps import train
tmp = pathlib.Path({tmp!r})
whole = train(tiny_cyclegan_config(tmp / "whole", epochs=3, deterministic=True), verbose=0)
config = tiny_cyclegan_config(tmp / "split", epochs=3, deterministic=True)
try:
    train(config, callbacks=[_Crash()], verbose=0)
except RuntimeError:
    pass
resumed = train(config, verbose=0)
# every weight, the image pools included
for a, b in zip(whole.model.weights, resumed.model.weights, strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
assert int(resumed.model.g_optimizer.iterations) == 9
print("EXACT")
"""


@pytest.mark.slow
def test_resumed_cyclegan_run_ends_with_the_same_weights_and_pools(tmp_path):
    # --deterministic turns on TF op determinism for the whole process: keep it out of ours.
    script = _EXACT_RESUME.format(tests=os.path.dirname(__file__), tmp=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0 and "EXACT" in done.stdout, done.stderr[-3000:]
