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
    # the papers' settings, and CycleGAN's LSGAN
    assert DCGANOptions().loss == "non_saturating" and DCGANOptions().latent_dim == 100
    assert Pix2PixOptions().dropout == 0.5 and Pix2PixOptions().reconstruction_weight is None
    assert CycleGANOptions().loss == "least_squares" and CycleGANOptions().lambda_cycle == 10


@pytest.mark.parametrize("settings, option, message", [
    ({"batch_size": 0}, "batch_size", "must be a positive integer, got 0"),
    ({"learning_rate": float("inf")}, "learning_rate", "must be a finite number"),
    ({"seed": -1}, "seed", "must be >= 0"),
    ({"upsampling": "bicubic"}, "upsampling", "must be one of ['upsample', 'transpose']"),
    ({"latent_dim": 2.5}, "latent_dim", "must be an integer, got 2.5"),
    ({"loss": "hinge"}, "loss", "must be one of"),
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
