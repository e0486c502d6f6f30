"""config.py and errors.py: typed options, strict keys, JSON round trips, user errors."""

from __future__ import annotations

import dataclasses

import pytest

from tfgan_apps.config import (
    AppOptions,
    CycleGANOptions,
    DCGANOptions,
    Pix2PixOptions,
    TrainConfig,
)
from tfgan_apps.errors import UserError, UserPathError


def test_create_routes_run_settings_and_options():
    config = TrainConfig.create("cyclegan", epochs=3, base_filters=8, num_residual_blocks=2)
    assert config.epochs == 3
    assert config.options == CycleGANOptions(base_filters=8, num_residual_blocks=2)


@pytest.mark.parametrize("app, key", [("dcgan", "residual_blocks"), ("cyclegan", "latent_dim"),
                                      ("pix2pix", "extra")])
def test_a_misspelled_option_is_an_error_naming_the_accepted_ones(app, key):
    with pytest.raises(UserError, match=rf"unknown option\(s\) \['{key}'\]") as caught:
        TrainConfig.create(app, **{key: 1})
    accepted = {f.name for f in dataclasses.fields(AppOptions.for_app(app))}
    assert all(name in str(caught.value) for name in accepted | {"epochs", "batch_size"})


def test_config_json_round_trip_and_unknown_keys():
    config = TrainConfig.create("pix2pix", epochs=2, dropout=0.1, devices=["/cpu:0"])
    data = config.to_json()
    assert TrainConfig.from_json(data) == config
    assert config.devices == ("/cpu:0",)
    with pytest.raises(UserError, match=r"unknown run option\(s\) \['extra'\]"):
        TrainConfig.from_json({**data, "extra": {}})
    with pytest.raises(UserError, match=r"unknown pix2pix option\(s\) \['residual_blocks'\]"):
        TrainConfig.from_json({**data, "options": {"residual_blocks": 3}})


def test_configs_are_frozen():
    config = TrainConfig.create("dcgan")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.image_size = 64  # type: ignore[misc]
    changed = config.replace(image_size=64, latent_dim=8)
    assert (changed.image_size, changed.options.latent_dim) == (64, 8)
    assert config.image_size is None and config.options.latent_dim == 100


def test_defaults_are_written_once_per_application():
    # the papers' settings where no measurement chose otherwise, and CycleGAN's LSGAN; the
    # papers' own are one preset away
    assert DCGANOptions().loss == "non_saturating" and DCGANOptions().latent_dim == 100
    assert Pix2PixOptions().reconstruction_weight is None
    assert TrainConfig.create("pix2pix", preset="paper").options.dropout == 0.5
    assert CycleGANOptions().loss == "least_squares" and CycleGANOptions().lambda_cycle == 10


@pytest.mark.parametrize("settings, option, message", [
    ({"batch_size": 0}, "batch_size", "must be a positive integer, got 0"),
    ({"learning_rate": float("inf")}, "learning_rate", "must be a finite number"),
    ({"seed": -1}, "seed", "must be >= 0"),
    ({"upsampling": "bicubic"}, "upsampling", "must be one of ['upsample', 'transpose']"),
    ({"latent_dim": 2.5}, "latent_dim", "must be an integer, got 2.5"),
    ({"loss": "wasserstein"}, "loss", "must be one of"),
])
def test_validation_names_the_option(settings, option, message):
    with pytest.raises(UserError) as caught:
        TrainConfig.create("dcgan", **settings).validate()
    assert caught.value.option == option
    assert str(caught.value) == f"{option} {caught.value.message}"
    assert message in caught.value.message
    assert caught.value.describe({option: "--flag"}).startswith("--flag ")


def test_paths_are_checked(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserPathError, match="no such directory") as caught:
        TrainConfig.create("dcgan", data_dir=str(tmp_path / "missing")).validate()
    assert isinstance(caught.value, FileNotFoundError) and caught.value.option == "data_dir"
    with pytest.raises(UserPathError, match="is a file, not a folder"):
        TrainConfig.create("pix2pix", masks_dir=str(tmp_path / "file")).validate()
    with pytest.raises(UserError, match="is a file, not a run directory"):
        TrainConfig.create("dcgan", output=str(tmp_path / "file")).validate()
    # remote folders are the data layer's to check (tf.io.gfile), not refused here
    TrainConfig.create("dcgan", data_dir="gs://bucket/photos").validate()


def test_messages_name_the_options_they_mention(tmp_path):
    with pytest.raises(UserError) as caught:
        TrainConfig.create("cyclegan", data_dir_a=str(tmp_path)).validate()
    assert str(caught.value).startswith("give both data_dir_a and data_dir_b")
    flags = {"data_dir_a": "--data-dir-a", "data_dir_b": "--data-dir-b"}
    assert caught.value.describe(flags).startswith("give both --data-dir-a and --data-dir-b")


# ------------------------------------------------------------------------------- presets
def test_the_paper_preset_is_one_word_away_and_flags_override_it():
    from tfgan_apps import get_application
    from tfgan_apps.cli import build_parser, config_from_args

    dcgan = get_application("dcgan")
    paper = dcgan.resolve(TrainConfig.create("dcgan", preset="paper"))
    assert paper.preset == "paper"
    assert (paper.options.upsampling, paper.options.ema_decay, paper.options.diff_augment,
            paper.options.spectral_norm, paper.options.r1_weight) == (
        "transpose", 0.0, "none", False, 0.0)
    assert paper.learning_rate == 2e-4 and paper.d_learning_rate is None
    # an explicit setting wins over the preset's, in Python and on the command line
    assert TrainConfig.create("dcgan", preset="paper", ema_decay=0.9).options.ema_decay == 0.9
    cli = config_from_args(build_parser().parse_args(
        ["train", "dcgan", "--preset", "paper", "--upsampling", "upsample"]))
    assert cli.preset == "paper" and cli.options.upsampling == "upsample"
    assert cli.options.ema_decay == 0.0
    # the default preset is the option defaults
    assert TrainConfig.create("dcgan", preset="default") == TrainConfig.create("dcgan")


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(UserError, match=r"unknown preset 'papr' for dcgan; choose one of "
                                        r"\['default', 'paper', 'tf-tutorial'\]"):
        TrainConfig.create("dcgan", preset="papr")
    config = dataclasses.replace(TrainConfig.create("dcgan"), preset="papr")
    with pytest.raises(UserError, match="unknown preset"):
        config.validate()


def test_presets_only_name_real_settings():
    """Every key of every preset is a run setting or an option of its application."""
    run_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for options_class in AppOptions.__subclasses__():
        option_fields = {f.name for f in dataclasses.fields(options_class)}
        for name, settings in options_class.presets.items():
            assert set(settings) <= run_fields | option_fields, (options_class.app, name)
            TrainConfig.create(options_class.app, preset=name).validate()


def test_the_discriminator_learning_rate_reaches_its_optimizer():
    from tfgan_apps import get_application

    config = get_application("dcgan").resolve(
        TrainConfig.create("dcgan", learning_rate=1e-4, d_learning_rate=4e-4))
    d_optimizer, g_optimizer = get_application("dcgan").optimizers(config, 10)
    assert float(d_optimizer.learning_rate) == pytest.approx(4e-4)
    assert float(g_optimizer.learning_rate) == pytest.approx(1e-4)
    with pytest.raises(UserError, match="d_learning_rate"):
        TrainConfig.create("dcgan", d_learning_rate=0.0).validate()
