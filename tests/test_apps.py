"""The application registry: one source of defaults for the API, the CLI and the quickstart;
export found by the model's class; each export matches its signature table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import (
    APPLICATIONS,
    DCGAN,
    CycleGAN,
    Pix2Pix,
    TrainConfig,
    UserError,
    application_for_model,
    export_saved_model,
    get_application,
    train,
)
from tfgan_apps.cli import build_parser, config_from_args, main
from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator


def _flat(config: TrainConfig) -> dict:
    data = config.to_json()
    options = data.pop("options")
    return {**data, **options}


@pytest.mark.parametrize("app", list(APPLICATIONS))
def test_api_cli_and_quickstart_resolve_the_same_options(app):
    application = get_application(app)
    api = application.resolve(TrainConfig(app=app))
    assert api == application.resolve(TrainConfig.create(app))
    cli = config_from_args(build_parser().parse_args(["train", app]))
    assert cli == api
    quickstart = _flat(application.quickstart_config())
    budget = application.quickstart_budget
    assert set(budget) <= set(quickstart)
    for key, value in _flat(api).items():
        assert quickstart[key] == budget.get(key, value), key


def test_the_defaults_users_get():
    cyclegan = get_application("cyclegan").resolve(TrainConfig(app="cyclegan"))
    assert cyclegan.batch_size == 1 and cyclegan.options.loss == "least_squares"
    pix2pix = get_application("pix2pix").resolve(TrainConfig(app="pix2pix"))
    assert pix2pix.batch_size == 16 and pix2pix.xla is None
    dcgan = get_application("dcgan").resolve(TrainConfig(app="dcgan"))
    # XLA chosen by the devices (off on CPUs, on GPUs)
    assert dcgan.batch_size == 64 and dcgan.xla is None
    given = TrainConfig.create("pix2pix", batch_size=2, xla=True)
    resolved = get_application("pix2pix").resolve(given)
    assert (resolved.batch_size, resolved.xla) == (2, True) and given.options is not None


def test_cli_flags_override_and_help_shows_the_defaults(capsys):
    args = build_parser().parse_args(["train", "cyclegan", "--residual-blocks", "3",
                                      "--no-augment", "--lambda-cycle", "5", "--epochs", "7"])
    config = config_from_args(args)
    assert config.options.num_residual_blocks == 3 and config.options.augment is False
    assert config.options.lambda_cycle == 5.0 and config.epochs == 7
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "cyclegan", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default least_squares)" in shown and "global batch size (default 1)" in shown


def test_train_leaves_the_callers_config_alone(tmp_path):
    config = TrainConfig.create("dcgan", dataset="builtin", batch_size=8, epochs=1,
                                steps_per_epoch=1, latent_dim=8, base_filters=8, xla=False,
                                output=str(tmp_path / "run"))
    before = dataclasses.replace(config)
    result = train(config, verbose=0)
    assert config == before and config.image_size is None
    assert result.config.image_size is None and result.config.batch_size == 8


def test_dcgan_options_reach_the_trained_model(tmp_path):
    """The remedies chosen in options are what train() builds (CLI and API alike)."""
    from tfgan_apps.layers import SpectralConv2D

    config = TrainConfig.create(
        "dcgan", dataset="builtin", batch_size=8, epochs=1, steps_per_epoch=2, latent_dim=8,
        base_filters=4, xla=False, ema_decay=0.9, diff_augment="translation",
        spectral_norm=True, r1_weight=0.2, loss="hinge", d_learning_rate=1e-3,
        output=str(tmp_path / "run"))
    model = train(config, verbose=0).model
    assert model.generator_ema is not None and model.ema_decay == 0.9
    assert (model.diff_augment, model.r1_weight, model.loss_name) == ("translation", 0.2,
                                                                       "hinge")
    layers = model.discriminator.layers
    assert any(isinstance(layer, SpectralConv2D) for layer in layers)
    assert not any("bn" in layer.name for layer in layers)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(2e-4)


def test_diffaugment_is_on_by_default_for_small_datasets_only(tmp_path):
    from tfgan_apps.apps.dcgan import diff_augment_policy
    from tfgan_apps.config import SMALL_DATASET_IMAGES

    assert diff_augment_policy("auto", 300) == "color,translation,cutout"
    assert diff_augment_policy("auto", SMALL_DATASET_IMAGES) == "none"
    assert diff_augment_policy("auto", None) == "none"
    assert diff_augment_policy("translation", 10_000) == "translation"
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        image = np.full((20, 20, 3), i * 20, np.uint8)
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(image))
    application = get_application("dcgan")
    config = application.resolve(TrainConfig.create("dcgan", data_dir=str(folder),
                                                     image_size=16, batch_size=4))
    facts = application.datasets(config).facts
    assert facts["train_examples"] == 12 and facts["diff_augment"] == "color,translation,cutout"


def test_export_finds_the_application_by_class(tmp_path):
    class MyDCGAN(DCGAN):
        pass

    model = MyDCGAN(build_dcgan_generator(16, 1, 4, 4), build_dcgan_discriminator(16, 1, 4))
    assert application_for_model(model) is get_application("dcgan")
    path = export_saved_model(model, str(tmp_path))
    assert path.endswith("dcgan/1")
    with pytest.raises(UserError, match="cannot export a str"):
        application_for_model("not a model")


def _tiny_models():
    return {
        "dcgan": DCGAN(build_dcgan_generator(16, 1, 4, 4), build_dcgan_discriminator(16, 1, 4)),
        "pix2pix-segmentation": Pix2Pix(mode="segmentation", num_classes=3, image_size=32,
                                        base_filters=4),
        "pix2pix-translation": Pix2Pix(mode="translation", image_size=32, base_filters=4),
        "cyclegan": CycleGAN(image_size=32, base_filters=4, discriminator_filters=4,
                             num_residual_blocks=1, discriminator_layers=2),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(_tiny_models()))
def test_every_export_matches_its_signature_table(kind, tmp_path):
    model = _tiny_models()[kind]
    table = application_for_model(model).signatures(model)
    loaded = tf.saved_model.load(export_saved_model(model, str(tmp_path)))
    assert set(loaded.signatures) == set(table)
    for name, spec in table.items():
        function = loaded.signatures[name]
        inputs = function.structured_input_signature[1]
        assert {k: v.dtype for k, v in inputs.items()} == {
            k: v.dtype for k, v in spec.inputs.items()}, name
        example = spec.example(model)
        outputs = function(**{k: tf.constant(v) for k, v in example.items()})
        assert set(outputs) == set(spec.outputs), name
        for key, expected in spec.outputs.items():
            assert outputs[key].dtype == expected.dtype, (name, key)
            assert expected.shape.is_compatible_with(outputs[key].shape), (name, key)
            if outputs[key].dtype.is_floating:
                assert np.all(np.isfinite(outputs[key].numpy()))


def test_a_bug_keeps_its_traceback_and_a_user_error_does_not(monkeypatch, capsys):
    import tfgan_apps.apps

    def buggy(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(tfgan_apps.apps, "train", buggy)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["train", "dcgan", "--quiet"])

    def refuses(*args, **kwargs):
        raise UserError("must be a positive integer, got 0", option="steps_per_epoch")

    monkeypatch.setattr(tfgan_apps.apps, "train", refuses)
    assert main(["train", "dcgan", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tfgan-apps: error: --steps-per-epoch must be a positive integer, got 0")
