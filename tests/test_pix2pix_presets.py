"""pix2pix's defaults (the measured best), its ``paper`` preset, and every option reaching the
networks and optimizers that ``train()`` builds."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import TrainConfig, UserError, get_application
from tfgan_apps.apps.pix2pix import FINAL_LEARNING_RATE_FRACTION
from tfgan_apps.cli import build_parser, config_from_args, main
from tfgan_apps.training import PreparedData

PIX2PIX = get_application("pix2pix")
FACTS = {"image_size": 32, "mode": "segmentation", "num_classes": 3}
TINY = {"base_filters": 4}


def resolved(**settings) -> TrainConfig:
    return PIX2PIX.resolve(TrainConfig.create("pix2pix", **settings))


def build(**settings):
    config = resolved(**{**TINY, **settings})
    return PIX2PIX.build_model(config, PreparedData(tf.data.Dataset.range(1), None, FACTS))


def conv_filters(network: keras.Model) -> list[int]:
    return [layer.filters for layer in network.layers
            if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)]


def kernel_initializer(network: keras.Model) -> str:
    """The one kernel initializer class of every convolution of ``network``."""
    names = {type(layer.kernel_initializer).__name__ for layer in network.layers
             if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)}
    assert len(names) == 1, names
    return names.pop()


def test_the_defaults_are_the_measured_best():
    config = resolved()
    options = config.options
    assert (config.learning_rate, config.d_learning_rate) == (2e-3, 2e-4)
    assert (options.base_filters, options.max_filters, options.dropout) == (32, 256, 0.0)
    assert options.discriminator_filters is None and options.discriminator_layers == 3
    assert options.lr_decay == "linear" and options.label_smoothing == 0.0
    assert options.instance_noise == 0.1 and build().instance_noise == 0.1
    assert options.real_mask_scaling == 0.9 and build().real_mask_scaling == 0.9
    assert options.generator_init == "glorot" and options.augment is None  # auto
    assert kernel_initializer(build().generator) == "GlorotUniform"
    # The quickstart only shortens the run: it trains with the defaults.
    assert set(PIX2PIX.quickstart_budget) <= {"epochs", "steps_per_epoch", "image_size"}


def test_paper_preset_and_flags_over_it():
    paper = resolved(preset="paper")
    options = paper.options
    assert (paper.learning_rate, paper.d_learning_rate) == (2e-4, 2e-4)
    assert (options.base_filters, options.max_filters, options.dropout) == (64, 512, 0.5)
    assert (options.discriminator_filters, options.discriminator_layers) == (64, 3)
    assert options.lr_decay == "none" and options.reconstruction_weight == 100.0
    assert (options.label_smoothing, options.instance_noise) == (0.0, 0.0)
    assert paper.preset == "paper" and build(preset="paper").instance_noise == 0.0
    assert options.real_mask_scaling == 0.0 and build(preset="paper").real_mask_scaling == 0.0
    assert options.generator_init == "normal" and options.augment is True
    assert kernel_initializer(build(preset="paper").generator) == "RandomNormal"
    given = resolved(preset="paper", dropout=0.2, learning_rate=1e-3)
    assert given.options.dropout == 0.2 and given.learning_rate == 1e-3
    assert given.options.base_filters == 64 and given.d_learning_rate == 2e-4
    # The CLI resolves to the same config as the API.
    cli = config_from_args(build_parser().parse_args(
        ["train", "pix2pix", "--preset", "paper", "--dropout", "0.2", "--learning-rate",
         "1e-3"]))
    assert cli == given


def test_unknown_preset_names_the_known_ones(capsys):
    with pytest.raises(UserError, match=r"unknown preset 'fast'.*\['default', 'paper'\]"):
        TrainConfig.create("pix2pix", preset="fast")
    assert main(["train", "pix2pix", "--preset", "fast", "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "paper" in error[0]


def test_help_lists_the_new_flags(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["train", "pix2pix", "--preset", "paper", "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for flag in ("--max-filters", "--discriminator-filters", "--discriminator-layers",
                 "--lr-decay {linear,none}", "--label-smoothing", "--instance-noise",
                 "--real-mask-scaling", "--generator-init {glorot,normal}",
                 "--preset {default,paper}", "--d-learning-rate"):
        assert flag in shown, flag
    assert "Adam learning rate (default 0.002)" in shown


@pytest.mark.parametrize("settings, message", [
    ({"label_smoothing": 1.0}, "label_smoothing must be in"),
    ({"label_smoothing": 0.1, "loss": "least_squares"}, "logistic losses"),
    ({"instance_noise": -0.1}, "instance_noise must be >= 0"),
    ({"real_mask_scaling": 1.0}, "real_mask_scaling must be in"),
    ({"lr_decay": "cosine"}, "lr_decay must be one of"),
    ({"discriminator_layers": 0}, "discriminator_layers must be a positive integer"),
    ({"generator_init": "he"}, "generator_init must be one of"),
])
def test_bad_values_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        resolved(**settings).validate()


def test_widths_and_depth_reach_the_networks():
    model = build(base_filters=8, max_filters=16, discriminator_filters=4,
                  discriminator_layers=2, dropout=0.3)
    assert max(conv_filters(model.generator)) == 16 and conv_filters(model.generator)[0] == 8
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.3
               for layer in model.generator.layers)
    d_filters = conv_filters(model.discriminator)
    assert d_filters[0] == 4
    strided = [layer for layer in model.discriminator.layers
               if isinstance(layer, keras.layers.Conv2D) and layer.strides == (2, 2)]
    assert len(strided) == 2
    # 32 / 2**2 - 2: one logit per 34x34 patch
    assert model.discriminator.output_shape[1:3] == (6, 6)
    # Without discriminator_filters D takes the U-Net's base width.
    assert conv_filters(build(base_filters=8).discriminator)[0] == 8
    remedies = build(label_smoothing=0.1, instance_noise=0.05, adversarial_weight=0.5,
                     real_mask_scaling=0.9)
    assert (remedies.label_smoothing, remedies.instance_noise) == (0.1, 0.05)
    assert remedies.real_mask_scaling == 0.9
    assert remedies.adversarial_weight == 0.5


def _rate(optimizer: keras.optimizers.Optimizer, step: int) -> float:
    rate = optimizer._learning_rate  # the schedule (``learning_rate`` reads it at iterations)
    return float(rate(step)) if callable(rate) else float(rate)


def test_linear_decay_reaches_five_percent_at_the_last_step():
    config = resolved(epochs=3)
    d_optimizer, g_optimizer = PIX2PIX.optimizers(config, steps_per_epoch=10)
    last = 3 * 10 - 1  # the optimizers' iterations before the run's last update
    for optimizer, initial in ((d_optimizer, 2e-4), (g_optimizer, 2e-3)):
        assert _rate(optimizer, 0) == pytest.approx(initial)
        assert _rate(optimizer, last // 2) == pytest.approx(
            initial * (1 - (1 - FINAL_LEARNING_RATE_FRACTION) * (last // 2) / last))
        assert _rate(optimizer, last) == pytest.approx(initial * FINAL_LEARNING_RATE_FRACTION)
        # Serializable (saved with the model's compile config).
        restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        assert _rate(restored, last) == pytest.approx(_rate(optimizer, last))
    constant = PIX2PIX.optimizers(resolved(preset="paper"), steps_per_epoch=10)
    assert [_rate(o, last) for o in constant] == pytest.approx([2e-4, 2e-4])


@pytest.mark.slow
def test_a_short_train_run_uses_the_schedule(tmp_path):
    config = TrainConfig.create("pix2pix", dataset="builtin", image_size=32, batch_size=2,
                                epochs=2, steps_per_epoch=2, base_filters=4, max_filters=8,
                                label_smoothing=0.1, instance_noise=0.1,
                                output=str(tmp_path / "run"))
    from tfgan_apps import train

    result = train(config, verbose=0)
    rates = result.history["learning_rate"]
    # logged at the end of each epoch, i.e. after 2 and 4 updates (the last at iterations 3)
    assert rates[-1] == pytest.approx(2e-3 * FINAL_LEARNING_RATE_FRACTION, rel=0.02)
    assert rates[0] > rates[-1]
    assert np.isfinite(result.history["d_loss"]).all()
    assert result.model.label_smoothing == 0.1


def write_pairs(root, count: int, size: int = 32):
    from PIL import Image

    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        mask = np.zeros((size, size), np.uint8)
        mask[8:20, 4 + i:16 + i] = 1  # one square per pair, at its own place
        Image.fromarray(mask, mode="L").save(masks / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
            images / f"{i}.png")
    return images, masks


def test_the_jitter_is_on_for_a_small_set_and_off_for_a_large_one(tmp_path):
    """``augment`` None ("auto"): jitter below SMALL_DATASET_IMAGES training pairs only; an
    explicit True or False wins either way."""
    from tfgan_apps.config import SMALL_DATASET_IMAGES

    images, masks = write_pairs(tmp_path, count=4)
    folders = {"data_dir": str(images), "masks_dir": str(masks), "num_classes": 2,
               "image_size": 32, "batch_size": 2}

    def prepared(**settings):
        return PIX2PIX.datasets(PIX2PIX.resolve(TrainConfig.create("pix2pix", **settings)))

    small = prepared(**folders)
    assert small.facts["train_examples"] == 4 < SMALL_DATASET_IMAGES
    assert small.facts["augment"] is True
    # The jittered pipeline: an epoch's masks are crops of the 1.12x upscaled ones, so a
    # square's edges move; without the jitter they are the files' masks exactly.
    def masks_of(data):
        return np.concatenate([np.asarray(m) for _, m in data.train]).sum(axis=(1, 2))

    plain = prepared(**folders, augment=False)
    assert plain.facts["augment"] is False and plain.facts["train_examples"] == 4
    assert sorted(masks_of(plain)) == [12 * 12] * 4
    assert sorted(masks_of(small)) != [12 * 12] * 4
    large = prepared(dataset="builtin", batch_size=16)
    assert large.facts["train_examples"] == 10000 and large.facts["augment"] is False
    assert prepared(dataset="builtin", batch_size=16, augment=True).facts["augment"] is True
