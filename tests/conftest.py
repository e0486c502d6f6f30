"""Shared test setup.

- TFDS datasets (the built-in ``tfgan_shapes`` configs) are prepared once per session (per
  pytest-xdist worker) in a temporary data dir, never in the user's ``~/tensorflow_datasets``
  and never from the network. The variable is set before TFDS is imported (TFDS reads it at
  import) and is inherited by the CLI subprocesses and notebook kernels the tests start.
- The CPU is split into two logical devices so MirroredStrategy tests have two replicas; the
  default strategy still runs on one device.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

# Under pytest-xdist each worker inherits the controller's environment: a data dir this file
# made (not one the user set) is replaced by the worker's own, so that two workers never
# prepare the same dataset in one place at once.
if "TFDS_DATA_DIR" not in os.environ or (
        os.environ.get("TFGAN_TESTS_OWN_TFDS_DIR") == os.environ["TFDS_DATA_DIR"]
        and os.environ.get("PYTEST_XDIST_WORKER")):
    os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(
        prefix=f"tfgan-tests-tfds-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
    os.environ["TFGAN_TESTS_OWN_TFDS_DIR"] = os.environ["TFDS_DATA_DIR"]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


def assert_keras_round_trip(model: keras.Model, inputs, tmp_path, call=None) -> keras.Model:
    """Save ``model`` as ``.keras``, reload with ``safe_mode=True`` and assert identical
    outputs on ``inputs``; also rebuild it from ``get_config``. Returns the reloaded model.

    Args:
        model: a tfgan_apps model or network.
        inputs: what ``call(model, inputs)`` takes.
        call: ``(model, inputs) -> array``; default ``model(inputs, training=False)``.
    """
    call = call or (lambda m, x: m(x, training=False))
    expected = np.asarray(call(model, inputs))
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    assert type(reloaded) is type(model)
    np.testing.assert_array_equal(np.asarray(call(reloaded, inputs)), expected)
    rebuilt = type(model).from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    return reloaded


def assert_saved_model_round_trip(model: keras.Model, inputs, tmp_path) -> None:
    """Export ``model`` (a functional network) as a SavedModel through Keras's
    ``ExportArchive`` and assert ``serve`` gives the same outputs as the model."""
    path = os.path.join(str(tmp_path), "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(path)
    np.testing.assert_allclose(
        np.asarray(reloaded.serve(inputs)), np.asarray(model(inputs, training=False)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.fixture
def round_trip(tmp_path):
    """``round_trip(model, inputs, call=None)``: :func:`assert_keras_round_trip` in tmp_path."""
    return lambda model, inputs, call=None: assert_keras_round_trip(model, inputs, tmp_path, call)


@pytest.fixture
def saved_model_round_trip(tmp_path):
    """``saved_model_round_trip(network, inputs)`` in tmp_path."""
    return lambda model, inputs: assert_saved_model_round_trip(model, inputs, tmp_path)


def model_state(model: keras.Model) -> dict[str, np.ndarray]:
    """Every variable a GAN model holds besides its metrics: the networks' weights, the step
    counter, CycleGAN's image pools and both optimizers' variables (copies, by path)."""
    variables = list(model.weights)
    for optimizer in (model.d_optimizer, model.g_optimizer):
        if optimizer is not None:
            variables += list(optimizer.variables)
    return {f"{i}:{v.path}": np.array(v) for i, v in enumerate(variables)}


@contextlib.contextmanager
def assert_state_unchanged(model: keras.Model):
    """A block that must leave every variable of :func:`model_state` as it was."""
    before = model_state(model)
    yield
    after = model_state(model)
    assert list(after) == list(before)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.fixture
def state_unchanged():
    """``with state_unchanged(model): ...``: :func:`assert_state_unchanged`."""
    return assert_state_unchanged


@pytest.fixture
def optimize_calls(monkeypatch):
    """Records every ``AdversarialModel.optimize`` call as ``(optimizer, variable paths)``.

    Run the model with ``compile(run_eagerly=True)`` so that every step's calls are seen (a
    compiled step calls it only while tracing).
    """
    from tfgan_apps.models.base import AdversarialModel

    calls = []
    optimize = AdversarialModel.optimize

    def spy(self, tape, loss, optimizer, variables):
        calls.append((optimizer, [v.path for v in variables]))
        return optimize(self, tape, loss, optimizer, variables)

    monkeypatch.setattr(AdversarialModel, "optimize", spy)
    return calls
