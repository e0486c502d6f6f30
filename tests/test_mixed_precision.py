"""Mixed precision (``--precision bf16|fp16``) for the three applications: the dtype policy
scope, float32 outputs and variables, fp16's loss-scale optimizers (checkpointed, restored),
``.keras`` round trips, exports, XLA on one device, MirroredStrategy, and the run setting
through the CLI into ``config.json`` and the resume check."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import DCGAN, TrainConfig, UserError, export_saved_model, get_application
from tfgan_apps.apps import application_for_model
from tfgan_apps.config import PRECISIONS
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator
from tfgan_apps.precision import PRECISION_POLICIES, precision_scope
from tfgan_apps.runs import RunDirectory
from tfgan_apps.training import PreparedData, make_strategy

MIXED = ("bf16", "fp16")

#: kind -> (application, TrainConfig.create settings, data facts the model factory reads)
KINDS = {
    # R1 (an input gradient inside D's loss), spectral norm, EMA and DiffAugment included
    "dcgan": ("dcgan", dict(image_size=16, latent_dim=8, base_filters=8, r1_weight=1.0,
                            spectral_norm=True, ema_decay=0.9),
              {"image_size": 16, "channels": 3, "diff_augment": "translation"}),
    "pix2pix": ("pix2pix", dict(base_filters=4, max_filters=16, discriminator_layers=2),
                {"image_size": 32, "mode": "segmentation", "num_classes": 3}),
    "pix2pix-translation": ("pix2pix", dict(base_filters=4, max_filters=16,
                                            discriminator_layers=2),
                            {"image_size": 32, "mode": "translation", "num_classes": None}),
    "cyclegan": ("cyclegan", dict(base_filters=4, discriminator_filters=4,
                                  num_residual_blocks=1),
                 {"image_size": 32}),
}


def _images(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)


def batches(kind: str, steps: int = 2) -> tf.data.Dataset:
    """``steps`` batches of random data of the kind's application."""
    if kind == "dcgan":
        return tf.data.Dataset.from_tensor_slices(_images(4 * steps, 16, 0)).batch(4)
    if kind == "pix2pix":
        masks = np.random.default_rng(1).integers(0, 3, (4 * steps, 32, 32)).astype(np.int32)
        return tf.data.Dataset.from_tensor_slices((_images(4 * steps, 32, 0), masks)).batch(4)
    if kind == "pix2pix-translation":
        pairs = (_images(4 * steps, 32, 0), _images(4 * steps, 32, 1))
        return tf.data.Dataset.from_tensor_slices(pairs).batch(4)
    pairs = (_images(2 * steps, 32, 0), _images(2 * steps, 32, 1))
    return tf.data.Dataset.from_tensor_slices(pairs).batch(2)


def build(kind: str, precision: str, jit_compile: bool = False, steps_per_epoch: int = 100):
    """The compiled model of ``kind`` as ``train()`` makes it: the application's factory,
    optimizers and compile arguments at ``precision`` (for a one-epoch run of
    ``steps_per_epoch`` steps, of which the tests train the first few: the learning-rate
    schedules have barely started decaying)."""
    app_name, settings, facts = KINDS[kind]
    application = get_application(app_name)
    config = application.resolve(TrainConfig.create(app_name, precision=precision, epochs=1,
                                                    **settings))
    keras.utils.set_random_seed(0)
    model = application.build_model(config, PreparedData(None, None, facts))
    model.compile(*application.optimizers(config, steps_per_epoch), jit_compile=jit_compile,
                  **application.compile_kwargs(config))
    return model


def networks(model) -> list[keras.Model]:
    return [getattr(model, name) for name in model.network_names
            if getattr(model, name, None) is not None]


def inference_outputs(model, kind: str) -> tf.Tensor:
    """What the model serves: DCGAN images, pix2pix logits or images, CycleGAN A->B."""
    if kind == "dcgan":
        return model.generate(4, seed=1)
    return model(tf.constant(_images(2, 32, 7)), training=False)


# ------------------------------------------------------------------------- the policy scope


def test_precision_names_and_policies():
    assert tuple(PRECISION_POLICIES) == PRECISIONS
    assert TrainConfig().precision == "fp32"
    with pytest.raises(UserError, match="unknown precision 'fp8'") as caught:
        TrainConfig.create("dcgan", precision="fp8").validate()
    assert caught.value.option == "precision"
    with pytest.raises(UserError, match="unknown precision"), precision_scope("int8"):
        pass


def test_the_scope_restores_the_previous_global_policy_even_after_an_error():
    before = keras.config.dtype_policy().name
    with precision_scope("bf16") as policy:
        assert policy.name == keras.config.dtype_policy().name == "mixed_bfloat16"
        generator = build_dcgan_generator(16, 1, 4, 4)
    assert keras.config.dtype_policy().name == before
    with pytest.raises(RuntimeError), precision_scope("fp16"):
        raise RuntimeError("while building")
    assert keras.config.dtype_policy().name == before
    # the layers keep the policy they were built with; the output layer is float32
    assert generator.get_layer("project").dtype_policy.name == "mixed_bfloat16"
    assert generator.get_layer("tanh").dtype_policy.name == "float32"
    assert generator(tf.zeros((1, 4))).dtype == tf.float32


def test_fp32_is_unchanged_and_loss_scaling_follows_float16_only():
    fp32, bf16 = build("dcgan", "fp32"), build("dcgan", "bf16")
    for model in (fp32, bf16):
        assert not isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert not model.computes_in_float16()
    assert {layer.dtype_policy.name for layer in fp32.generator.layers} == {"float32"}
    # an optimizer given as a LossScaleOptimizer is kept, not wrapped twice; opting out works
    with precision_scope("fp16"):
        model = DCGAN(build_dcgan_generator(16, 1, 4, 4), build_dcgan_discriminator(16, 1, 4))
    given = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=8.0)
    model.compile(given, jit_compile=False)
    assert model.d_optimizer is given
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    model.compile(jit_compile=False, auto_scale_loss=False)
    assert not isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.get_compile_config()["auto_scale_loss"] is False


# --------------------------------------------------------------- training, outputs, saving


@pytest.mark.parametrize("precision", MIXED)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_few_steps_train_finite_with_float32_outputs_and_round_trip(kind, precision,
                                                                      round_trip):
    model = build(kind, precision)
    assert keras.config.dtype_policy().name == "float32"  # only the networks took the policy
    policy = PRECISION_POLICIES[precision]
    for network in networks(model):
        assert network.layers[1].dtype_policy.name == policy, network.name
        assert all(output.dtype == "float32" for output in network.outputs), network.name
    # variables stay float32 (the networks', the EMA's, the pools', the optimizers')
    variables = list(model.weights) + model.d_optimizer.variables + model.g_optimizer.variables
    assert {v.dtype for v in variables if "float" in v.dtype} == {"float32"}
    loss_scaled = precision == "fp16"
    for optimizer in (model.d_optimizer, model.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) is loss_scaled

    # fp16: dynamic loss scaling skips the steps whose scaled gradients overflow while it
    # halves its scale from 2**15. The default CycleGAN's un-normalized generators start with
    # nearly flat outputs, whose gradient through D's instance norm overflows float16 until
    # the scale is down to 8: 12 skipped steps (measured), after which every network trains.
    steps = 16 if precision == "fp16" and kind == "cyclegan" else 4
    before = [np.array(v) for network in networks(model) for v in network.trainable_weights]
    history = model.fit(batches(kind, steps), epochs=1, verbose=0).history
    assert history and all(np.isfinite(v).all() for v in history.values()), history
    after = [np.array(v) for network in networks(model) for v in network.trainable_weights]
    unchanged = [v.path for network in networks(model) for v in network.trainable_weights
                 if np.array_equal(before.pop(0), np.array(v))]
    assert not unchanged
    assert all(np.isfinite(w).all() for w in after)
    assert int(model.step_counter.numpy()) == steps
    for optimizer in (model.d_optimizer, model.g_optimizer):
        applied = int(optimizer.iterations.numpy())
        if loss_scaled:
            # A step whose float16 gradients overflow is skipped and halves the scale (the
            # CycleGAN generators' first steps at 2**15 do); finite steps keep it.
            assert 1 <= applied <= steps
            assert float(optimizer.dynamic_scale.numpy()) == 2.0 ** (15 - (steps - applied))
        else:
            assert applied == steps

    outputs = inference_outputs(model, kind)
    assert outputs.dtype == tf.float32
    if kind != "pix2pix":  # (segmentation logits are unbounded)
        assert -1.0 <= float(tf.reduce_min(outputs)) and float(tf.reduce_max(outputs)) <= 1.0

    reloaded = round_trip(model, None, call=lambda m, _: inference_outputs(m, kind))
    assert reloaded.get_layer(networks(model)[0].name).layers[1].dtype_policy.name == policy
    for optimizer, original in ((reloaded.d_optimizer, model.d_optimizer),
                                (reloaded.g_optimizer, model.g_optimizer)):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) is loss_scaled
        assert int(optimizer.iterations.numpy()) == int(original.iterations.numpy())


def test_the_loss_scale_is_checkpointed_and_restored(tmp_path):
    """``tf.train.Checkpoint(model=...)`` (what ResumableCheckpoint saves) holds each
    LossScaleOptimizer's scale and growth counter."""
    model = build("dcgan", "fp16")
    model.fit(batches("dcgan"), epochs=1, verbose=0)
    model.d_optimizer.dynamic_scale.assign(1024.0)
    model.g_optimizer.dynamic_scale.assign(512.0)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    keys = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    for name in ("d_optimizer", "g_optimizer"):
        assert f"model/{name}/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in keys
        assert f"model/{name}/step_counter/.ATTRIBUTES/VARIABLE_VALUE" in keys

    restored = build("dcgan", "fp16")
    tf.train.Checkpoint(model=restored).restore(path).assert_existing_objects_matched()
    assert float(restored.d_optimizer.dynamic_scale.numpy()) == 1024.0
    assert float(restored.g_optimizer.dynamic_scale.numpy()) == 512.0
    assert int(restored.d_optimizer.step_counter.numpy()) == 2
    assert int(restored.g_optimizer.iterations.numpy()) == 2


def test_a_non_finite_fp16_step_is_skipped_and_halves_the_scale():
    """An overflowing scale makes the float16 gradients infinite: the step is skipped (the
    weights and the optimizers' iterations stay), the scale halves, the step counter runs."""
    model = build("dcgan", "fp16")
    for optimizer in (model.d_optimizer, model.g_optimizer):
        optimizer.dynamic_scale.assign(2.0**127)  # inf once multiplied by any gradient > 2
    before = [np.array(v) for v in model.discriminator.trainable_weights]
    model.fit(batches("dcgan", steps=1), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == 0
    assert float(model.d_optimizer.dynamic_scale.numpy()) == 2.0**126
    for a, b in zip(before, model.discriminator.trainable_weights, strict=True):
        np.testing.assert_array_equal(a, np.array(b))
    assert int(model.step_counter.numpy()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind,precision", [("dcgan", "bf16"), ("dcgan", "fp16"),
                                            ("cyclegan", "bf16")])
def test_xla_on_one_device(kind, precision):
    """XLA (``jit_compile``) with mixed precision on one CPU device (XLA over several CPU
    replicas is refused in TF 2.21, see tfgan_apps.training.resolve_xla)."""
    model = build(kind, precision, jit_compile=True)
    assert model.jit_compile is True
    history = model.fit(batches(kind), epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values()), history
    assert inference_outputs(model, kind).dtype == tf.float32


@pytest.mark.slow
def test_fp16_on_two_cpu_replicas_matches_one_device():
    """The LossScaleOptimizers under MirroredStrategy (their cross-replica finite check)."""

    def weights(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(42)
            with precision_scope("fp16"):
                model = DCGAN(build_dcgan_generator(16, 3, 8, 8),
                              build_dcgan_discriminator(16, 3, 8), seed=11)
            model.compile(keras.optimizers.SGD(1e-2), keras.optimizers.SGD(1e-2),
                          jit_compile=False)
        model.fit(batches("dcgan", steps=3), epochs=1, verbose=0)
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert int(model.d_optimizer.iterations.numpy()) == 3
        return [np.asarray(v) for v in model.weights]

    one = weights(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = weights(make_strategy("mirrored", ["/cpu:0", "/cpu:1"]))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("precision", MIXED)
@pytest.mark.parametrize("kind", ["dcgan", "pix2pix", "cyclegan"])
def test_exports_serve_what_fp32_exports_serve(kind, precision, tmp_path):
    """The signature table is the fp32 one (float32/uint8/string in and out) and the
    served outputs are the model's own."""
    model = build(kind, precision)
    table = application_for_model(model).signatures(model)
    loaded = tf.saved_model.load(export_saved_model(model, str(tmp_path)))
    assert set(loaded.signatures) == set(table)
    for name, spec in table.items():
        function = loaded.signatures[name]
        inputs = function.structured_input_signature[1]
        assert {k: v.dtype for k, v in inputs.items()} == {
            k: v.dtype for k, v in spec.inputs.items()}, name
        outputs = function(**{k: tf.constant(v) for k, v in spec.example(model).items()})
        assert {k: v.dtype for k, v in outputs.items()} == {
            k: v.dtype for k, v in spec.outputs.items()}, name
    example = table["serving_default"].example(model)
    served = loaded.signatures["serving_default"](
        **{k: tf.constant(v) for k, v in example.items()})
    if kind == "dcgan":
        from tfgan_apps.data.convert import from_signed_unit

        expected = from_signed_unit(model(tf.constant(example["z"]))).numpy()
        # the same float32 tanh, rounded to uint8: at most one step apart
        difference = np.abs(served["images"].numpy().astype(int) - expected.astype(int))
        assert difference.max() <= 1


# ------------------------------------------------------------ run setting, CLI and resume


def test_a_run_directory_refuses_another_precision(tmp_path):
    run = RunDirectory(str(tmp_path / "run"))
    os.makedirs(run.path)
    config = get_application("dcgan").default_config(output=run.path, precision="bf16")
    run.write_record(config, {}, {}, 0)
    assert run.read_config().precision == "bf16"
    assert run.check_resume(config) == {}
    with pytest.raises(UserError, match="trained with precision=bf16; this run asks for fp32"):
        run.check_resume(config.replace(precision="fp32"))
    # a record written before the setting existed was trained in fp32
    with open(run.config_path) as f:
        record = json.load(f)
    del record["precision"]
    with open(run.config_path, "w") as f:
        json.dump(record, f)
    assert run.read_config().precision == "fp32"


@pytest.mark.slow
def test_the_cli_flag_reaches_the_model_the_record_and_the_checkpoints(tmp_path, capsys):
    from tfgan_apps.cli import main

    def load_run_model(run_dir):  # compiled: the optimizers and their state too
        return keras.models.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)

    run_dir = str(tmp_path / "run")
    tiny = ["train", "dcgan", "--image-size", "16", "--batch-size", "8", "--steps-per-epoch",
            "2", "--base-filters", "8", "--latent-dim", "8", "--no-xla", "--quiet",
            "--output", run_dir]
    assert main([*tiny, "--epochs", "1", "--precision", "fp16"]) == 0
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["precision"] == "fp16"
    model = load_run_model(run_dir)
    assert model.generator.get_layer("project").dtype_policy.name == "mixed_float16"
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    assert "model/d_optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in (
        tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map())

    capsys.readouterr()
    assert main([*tiny, "--epochs", "2", "--precision", "bf16"]) == 2
    assert "precision=fp16; this run asks for bf16" in capsys.readouterr().err
    assert main([*tiny, "--epochs", "2", "--precision", "fp16"]) == 0
    resumed = load_run_model(run_dir)
    # the loss-scale state went on from the checkpoint: 4 finite steps counted, not 2
    assert int(resumed.d_optimizer.step_counter.numpy()) == 4
    assert int(resumed.g_optimizer.iterations.numpy()) == 4
