"""pix2pix: learning, logged metrics, ablation, translation mode, serialization, replicas."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.errors import UserError
from tfgan_apps.losses import label_smoothed_discriminator_loss, non_saturating_discriminator_loss
from tfgan_apps.models.pix2pix import Pix2Pix, scaled_one_hot
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator
from tfgan_apps.training import make_strategy


def disc_scenes(count: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright discs on a darker, noisy background; mask 1 = inside the disc.

    Returns float32 images ``[count, S, S, 3]`` in [-1, 1] and int32 masks ``[count, S, S]``.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype("float32")
    images = np.empty((count, size, size, 3), "float32")
    masks = np.empty((count, size, size), "int32")
    for i in range(count):
        radius = rng.uniform(0.15, 0.3) * size
        cy, cx = rng.uniform(radius, size - radius, 2)
        inside = (y - cy) ** 2 + (x - cx) ** 2 <= radius**2
        background = rng.uniform(-0.9, 0.1, 3)
        foreground = rng.uniform(0.4, 0.9, 3)
        image = np.where(inside[..., None], foreground, background)
        images[i] = np.clip(image + rng.normal(0, 0.1, image.shape), -1, 1)
        masks[i] = inside
    return images, masks


def small_pix2pix(size: int = 32, num_classes: int = 2, **kwargs) -> Pix2Pix:
    generator = build_unet_generator(size, 3, num_classes, base_filters=8, max_filters=32,
                                     output_activation=None, dropout=kwargs.pop("dropout", 0.5))
    discriminator = build_patch_discriminator(size, 3, num_classes, base_filters=8)
    return Pix2Pix(generator, discriminator, **kwargs)


@pytest.fixture(scope="module")
def trained_segmenter():
    images, masks = disc_scenes(256, seed=0)
    train = tf.data.Dataset.from_tensor_slices((images, masks)).shuffle(256, seed=0).repeat()
    model = small_pix2pix(seed=1)
    model.compile(g_optimizer={"class_name": "Adam",
                               "config": {"learning_rate": 1e-3, "beta_1": 0.5}})
    history = model.fit(train.batch(16, drop_remainder=True), steps_per_epoch=100, epochs=3,
                        verbose=0)
    return model, history


@pytest.mark.slow
def test_segmentation_learns_a_mask_rule(trained_segmenter):
    model, history = trained_segmenter
    test_images, test_masks = disc_scenes(64, seed=99)
    report = model.evaluate_segmentation(
        tf.data.Dataset.from_tensor_slices((test_images, test_masks)).batch(16))
    # Chance level: all background gives mean IoU ~0.4 (background IoU ~0.8, disc 0).
    assert report["mean_iou"] > 0.8, report
    assert min(report["per_class_iou"]) > 0.7, report
    assert report["pixel_accuracy"] > 0.9
    assert report["confusion_matrix"].sum() == test_masks.size
    logs = history.history
    assert logs["mean_iou"][-1] > logs["mean_iou"][0]
    for key in ("d_loss", "g_loss", "g_adversarial", "ce_loss", "d_real", "d_fake",
                "pixel_accuracy"):
        assert np.isfinite(logs[key][-1]), key
    masks = model.predict_masks(test_images[:4])
    assert masks.dtype == tf.int32 and masks.shape == (4, 32, 32)
    probabilities = model.predict_probabilities(test_images[:4]).numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_segmentation_keras_round_trip(trained_segmenter, round_trip):
    model, _ = trained_segmenter
    images, _ = disc_scenes(4, seed=5)
    reloaded = round_trip(model, images)
    assert reloaded.mode == "segmentation" and reloaded.num_classes == 2
    assert reloaded.reconstruction_weight == model.reconstruction_weight
    # Optimizer state survives too (compile config is saved).
    assert int(reloaded.g_optimizer.iterations) == int(model.g_optimizer.iterations)


def test_validation_reports_per_class_iou(state_unchanged):
    images, masks = disc_scenes(16, seed=1)
    data = tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)
    model = small_pix2pix(seed=0)
    model.compile(jit_compile=False)
    history = model.fit(data, validation_data=data, epochs=1, verbose=0)
    for key in ("val_ce_loss", "val_pixel_accuracy", "val_mean_iou", "val_iou_class_0",
                "val_iou_class_1"):
        assert key in history.history, sorted(history.history)
    assert int(model.step_counter.numpy()) == 2
    with state_unchanged(model):
        results = model.evaluate(data, return_dict=True, verbose=0)
    assert set(results) == {"ce_loss", "pixel_accuracy", "mean_iou", "iou_class_0",
                            "iou_class_1"}
    present = [results[f"iou_class_{k}"] for k in range(2)
               if not np.isnan(results[f"iou_class_{k}"])]
    assert results["mean_iou"] == pytest.approx(np.mean(present), abs=1e-6)


def test_cross_entropy_only_ablation_leaves_the_discriminator_alone():
    images, masks = disc_scenes(16, seed=2)
    model = small_pix2pix(adversarial_weight=0.0)
    before = [w.numpy() for w in model.discriminator.weights]
    model.compile(jit_compile=False)
    history = model.fit(images, masks, batch_size=8, epochs=1, verbose=0)
    assert "d_loss" not in history.history and "ce_loss" in history.history
    for old, new in zip(before, model.discriminator.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    assert history.history["g_loss"][0] == pytest.approx(100 * history.history["ce_loss"][0])
    assert int(model.step_counter.numpy()) == 2


def test_translation_mode_runs_and_round_trips(round_trip):
    images, _ = disc_scenes(8, seed=3)
    targets = -images  # a paired "translation": the negative
    model = Pix2Pix(mode="translation", image_size=32, base_filters=4, seed=0)
    assert model.reconstruction_weight == 100.0  # the paper's lambda
    model.compile(jit_compile=False)
    history = model.fit(images, targets, batch_size=4, epochs=1, verbose=0)
    assert {"d_loss", "g_loss", "l1_loss"} <= set(history.history)
    out = model(images, training=False).numpy()
    assert out.shape == (8, 32, 32, 3) and np.all(np.abs(out) <= 1)
    assert "l1_loss" in model.evaluate(images, targets, return_dict=True, verbose=0)
    reloaded = round_trip(model, images)
    assert reloaded.mode == "translation"
    with pytest.raises(ValueError, match="segmentation"):
        model.predict_masks(images)


def test_constructor_validates_arguments():
    with pytest.raises(UserError, match="mode"):
        Pix2Pix(mode="colorize", image_size=32)
    with pytest.raises(UserError, match="num_classes"):
        Pix2Pix(image_size=32, base_filters=4)
    with pytest.raises(UserError, match="adversarial_weight"):
        Pix2Pix(image_size=32, num_classes=2, adversarial_weight=-1.0)
    with pytest.raises(UserError, match="reconstruction_weight"):
        Pix2Pix(image_size=32, num_classes=2, reconstruction_weight=-1.0)
    with pytest.raises(UserError, match="power of two"):
        Pix2Pix(image_size=48, num_classes=2)
    with pytest.raises(ValueError, match="num_classes=3"):
        Pix2Pix(build_unet_generator(32, 3, 2, base_filters=4, output_activation=None),
                num_classes=3)
    with pytest.raises(ValueError, match="discriminator"):
        Pix2Pix(build_unet_generator(32, 3, 2, base_filters=4, output_activation=None),
                build_patch_discriminator(32, 3, 3, base_filters=4))


@pytest.mark.parametrize("adversarial_weight", [1.0, 0.0])
def test_every_update_goes_through_optimize(optimize_calls, adversarial_weight):
    images, masks = disc_scenes(16, seed=6)
    model = small_pix2pix(adversarial_weight=adversarial_weight)
    model.compile(run_eagerly=True)  # eager: the spy sees every step, not one trace
    model.fit(images, masks, batch_size=8, epochs=1, verbose=0)
    d_call = (model.d_optimizer, [v.path for v in model.discriminator.trainable_variables])
    g_call = (model.g_optimizer, [v.path for v in model.generator.trainable_variables])
    # D and G from one forward pass; the ablation updates G only
    assert optimize_calls == ([d_call, g_call] if adversarial_weight else [g_call]) * 2
    assert int(model.g_optimizer.iterations) == 2
    assert int(model.d_optimizer.iterations) == (2 if adversarial_weight else 0)
    assert int(model.step_counter.numpy()) == 2


def _sgd() -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    # SGD, not Adam: Adam's step ignores the gradient's scale (so it would hide a wrong
    # per-replica loss scaling) and its first step turns noise-level gradients into +-lr.
    return keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3)


def test_two_replicas_train_like_one_device():
    """MirroredStrategy on two logical CPUs (no XLA) takes the same step as one device."""
    images, masks = disc_scenes(8, seed=4)
    reference = small_pix2pix(dropout=0.0, seed=0)  # dropout off: its draws are per replica
    initial = reference.get_weights()
    reference.compile(*_sgd(), jit_compile=False)
    reference.fit(images, masks, batch_size=8, epochs=1, verbose=0, shuffle=False)

    # make_strategy shares one MirroredStrategy per process (see its docstring).
    strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = small_pix2pix(dropout=0.0, seed=0)
        mirrored.set_weights(initial)
        mirrored.compile(*_sgd(), jit_compile=False)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)
    mirrored.fit(dataset, epochs=1, verbose=0)
    assert int(mirrored.step_counter.numpy()) == 1  # once per global step
    for expected, got in zip(reference.get_weights(), mirrored.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_label_smoothed_discriminator_loss_by_hand():
    real, fake = tf.constant([[0.0], [2.0]]), tf.constant([[-1.0], [-1.0]])
    # (1 - s) * softplus(-r) + s * softplus(r), s = 0.1: ln 2 at r = 0; at r = 2,
    # 0.9 * ln(1 + e^-2) + 0.1 * ln(1 + e^2) = 0.9 * 0.126928 + 0.1 * 2.126928
    expected_real = (np.log(2.0) + 0.9 * 0.1269280 + 0.1 * 2.1269280) / 2
    expected = expected_real + np.log1p(np.exp(-1.0))  # fakes' target stays 0: softplus(f)
    assert float(label_smoothed_discriminator_loss(real, fake, 0.1)) == pytest.approx(
        expected, abs=1e-5)
    assert float(label_smoothed_discriminator_loss(real, fake, 0.0)) == pytest.approx(
        float(non_saturating_discriminator_loss(real, fake)), abs=1e-6)
    # the smoothed loss is minimal where sigmoid(real) = 0.9, not at an ever larger logit
    logits = tf.constant(np.linspace(0.0, 6.0, 601, dtype="float32"))[:, None]
    losses = [float(label_smoothed_discriminator_loss(r[None], fake[:1], 0.1)) for r in logits]
    assert float(tf.sigmoid(logits[int(np.argmin(losses))][0])) == pytest.approx(0.9, abs=1e-2)


def test_label_smoothing_and_instance_noise_train_and_round_trip(round_trip):
    images, masks = disc_scenes(8, seed=7)
    model = small_pix2pix(dropout=0.0, label_smoothing=0.1, instance_noise=0.2, seed=3)
    # The noise D sees is a function of (seed, step): the same for a step, new for the next.
    targets = tf.one_hot(masks, 2)
    noisy = model._discriminator_inputs(targets, tf.constant(5, tf.int64), 0)
    again = model._discriminator_inputs(targets, tf.constant(5, tf.int64), 0)
    later = model._discriminator_inputs(targets, tf.constant(6, tf.int64), 0)
    np.testing.assert_array_equal(noisy, again)
    assert not np.allclose(noisy, later)
    assert float(tf.math.reduce_std(noisy - targets)) == pytest.approx(0.2, rel=0.1)
    plain = small_pix2pix()
    assert plain._discriminator_inputs(targets, tf.constant(5, tf.int64), 0) is targets
    model.compile(jit_compile=False)
    history = model.fit(images, masks, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    reloaded = round_trip(model, images)
    assert (reloaded.label_smoothing, reloaded.instance_noise) == (0.1, 0.2)
    with pytest.raises(UserError, match="logistic losses"):
        small_pix2pix(label_smoothing=0.1).compile(loss="least_squares")
    with pytest.raises(UserError, match="label_smoothing"):
        small_pix2pix(label_smoothing=1.0)
    with pytest.raises(UserError, match="instance_noise"):
        small_pix2pix(instance_noise=-1.0)


def test_scaled_one_hot_matches_luc_et_al_by_hand():
    masks = tf.constant([[[0, 2, 1]]])
    probabilities = tf.constant([[[[0.5, 0.3, 0.2],     # true class 0 under tau: raised to 0.9
                                   [0.1, 0.1, 0.8],     # true class 2 under tau
                                   [0.02, 0.95, 0.03],  # true class 1 above tau: kept
                                   ]]])
    got = scaled_one_hot(masks, probabilities, 0.9).numpy()[0, 0]
    # the true class at max(tau, p); the others keep their predicted ratio and share the rest
    expected = np.array([[0.9, 0.1 * 0.3 / 0.5, 0.1 * 0.2 / 0.5],
                         [0.1 * 0.1 / 0.2, 0.1 * 0.1 / 0.2, 0.9],
                         [0.02, 0.95, 0.03]])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-6)
    # a confident correct prediction stays as it is; tau = 1 is the plain one-hot
    sharp = tf.constant([[[[1.0, 0.0, 0.0]]]])
    np.testing.assert_allclose(scaled_one_hot(tf.constant([[[0]]]), sharp, 0.9), sharp)
    np.testing.assert_allclose(scaled_one_hot(masks, probabilities, 1.0),
                               tf.one_hot(masks, 3), atol=1e-6)
    # no gradient reaches the generator through the real maps
    with tf.GradientTape() as tape:
        tape.watch(probabilities)
        total = tf.reduce_sum(scaled_one_hot(masks, probabilities, 0.9))
    assert tape.gradient(total, probabilities) is None


def test_real_mask_scaling_feeds_d_scaled_masks_trains_and_round_trips(round_trip):
    images, masks = disc_scenes(8, seed=5)
    model = small_pix2pix(dropout=0.0, real_mask_scaling=0.8, seed=2)
    outputs = model.generator(images[:2])
    generated = model._outputs_for_discriminator(outputs)
    real = model._targets_for_discriminator(masks[:2], generated).numpy()
    np.testing.assert_allclose(
        real, scaled_one_hot(masks[:2], tf.nn.softmax(outputs), 0.8), atol=1e-6)
    assert real.max(-1).min() >= 0.8 - 1e-6 and real.max(-1).max() < 1.0  # soft, not one-hot
    assert (np.argmax(real, -1) == masks[:2]).all()
    plain = small_pix2pix()._targets_for_discriminator(masks[:2], generated).numpy()
    np.testing.assert_array_equal(plain, tf.one_hot(masks[:2], 2))
    model.compile(jit_compile=False)
    history = model.fit(images, masks, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert round_trip(model, images).real_mask_scaling == 0.8
    with pytest.raises(UserError, match="real_mask_scaling must be in"):
        small_pix2pix(real_mask_scaling=1.0)
    generator = build_unet_generator(32, 3, 3, base_filters=4, max_filters=8)
    with pytest.raises(UserError, match="applies to segmentation"):
        Pix2Pix(generator, build_patch_discriminator(32, 3, 3, base_filters=4),
                mode="translation", real_mask_scaling=0.9)


def test_translation_evaluation_reports_psnr_and_ssim():
    from tfgan_apps.apps import get_application
    from tfgan_apps.training import PreparedData

    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (6, 32, 32, 3)).astype("float32")
    targets = -images
    model = Pix2Pix(mode="translation", image_size=32, base_filters=4, seed=0)
    model.compile()
    validation = tf.data.Dataset.from_tensor_slices((images, targets)).batch(4)
    report = get_application("pix2pix").evaluate(
        None, model, PreparedData(validation, validation, {"mode": "translation"}))
    outputs = np.asarray(model(images, training=False))
    # 8-bit PSNR on [0, 1] intensities, per image, then the mean
    mse = (((outputs + 1) / 2 - (targets + 1) / 2) ** 2).mean(axis=(1, 2, 3))
    assert report["psnr_db"] == pytest.approx(float(np.mean(10 * np.log10(1 / mse))), rel=1e-4)
    assert -1 <= report["ssim"] <= 1 and report["l1_loss"] >= 0
