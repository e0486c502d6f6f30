"""feature_metrics.py and evaluate.py: FID/KID against closed forms and independent NumPy
references, streaming moments, extractors, and ``tfgan-apps evaluate`` on tiny runs."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import TrainConfig, UserError, get_application, train
from tfgan_apps.cli import main
from tfgan_apps.errors import UserPathError
from tfgan_apps.feature_metrics import (
    INCEPTION_WEIGHTS_FILE,
    FeatureMoments,
    compare_image_sets,
    fid,
    frechet_distance,
    inception_v3_extractor,
    keras_model_extractor,
    kernel_inception_distance,
)


def test_streamed_moments_equal_numpy_on_the_whole_set():
    data = np.random.default_rng(0).normal(size=(503, 7)) * np.arange(1, 8) + 3
    moments = FeatureMoments(kid_sample=50)
    for start in range(0, len(data), 64):
        moments.update(data[start:start + 64])
    np.testing.assert_allclose(moments.mean, data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(moments.covariance, np.cov(data, rowvar=False), rtol=1e-9,
                               atol=1e-9)
    assert moments.count == 503 and moments.sample.shape == (50, 7)


def test_reservoir_is_a_uniform_sample():
    data = np.arange(10000, dtype=np.float64)[:, None]
    moments = FeatureMoments(kid_sample=2000, seed=1)
    for start in range(0, len(data), 100):
        moments.update(data[start:start + 100])
    sample = moments.sample[:, 0]
    assert len(np.unique(sample)) == 2000
    # a uniform sample of 0..9999: mean 5000 +- 3 standard errors (2887 / sqrt(2000) = 65)
    assert abs(sample.mean() - 4999.5) < 200
    assert abs(np.mean(sample < 5000) - 0.5) < 0.05


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    s_a, s_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5])
    expected = ((mu_a - mu_b) ** 2).sum() + ((s_a - s_b) ** 2).sum()
    assert frechet_distance(mu_a, np.diag(s_a ** 2), mu_b, np.diag(s_b ** 2)) == (
        pytest.approx(expected, rel=1e-12))


def test_frechet_distance_matches_an_eigenvalue_reference():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov_a, cov_b = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    # tr((C_a C_b)^(1/2)) = sum of the square roots of C_a C_b's (real, >= 0) eigenvalues
    reference = (((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sqrt(np.linalg.eigvals(cov_a @ cov_b).real).sum())
    assert frechet_distance(mu_a, cov_a, mu_b, cov_b) == pytest.approx(reference, rel=1e-9)
    assert frechet_distance(mu_a, cov_a, mu_a, cov_a) == pytest.approx(0, abs=1e-9)


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(3)
    a, b = FeatureMoments(0), FeatureMoments(0)
    a.update(rng.normal(0.0, 1.0, size=(40000, 4)))
    b.update(rng.normal(0.5, 2.0, size=(40000, 4)))
    assert fid(a, b) == pytest.approx(4 * 0.25 + 4 * 1.0, rel=0.03)


def _mmd_reference(x, y):
    d = x.shape[1]

    def k(u, v):
        return (u @ v / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.7, 1.0, size=(12, 5))
    kid, std = kernel_inception_distance(x, y, subsets=3, subset_size=12)
    assert kid == pytest.approx(_mmd_reference(x, y), rel=1e-9) and std == pytest.approx(0)
    same = kernel_inception_distance(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)),
                                     subsets=20, subset_size=200)
    shifted = kernel_inception_distance(rng.normal(size=(400, 5)),
                                        rng.normal(0.5, 1.0, size=(400, 5)), subsets=20,
                                        subset_size=200)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and shifted[0] > 10 * abs(same[0])


def test_missing_inception_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(UserError, match=f"InceptionV3 weights not found at "
                       f"{tmp_path}/models/{INCEPTION_WEIGHTS_FILE}: download https://"):
        inception_v3_extractor()


def _feature_model(path, size=16, channels=3):
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, outputs).save(path)
    return str(path)


def test_a_keras_feature_model_resizes_and_converts_channels(tmp_path):
    extract = keras_model_extractor(_feature_model(tmp_path / "f.keras", size=16, channels=3))
    features = extract(np.zeros((5, 32, 32, 1), np.float32))
    assert tuple(features.shape) == (5, 4)


def test_compare_image_sets_of_one_distribution_is_near_zero(tmp_path):
    extract = keras_model_extractor(_feature_model(tmp_path / "f.keras"))
    rng = np.random.default_rng(5)

    def batches(offset):
        while True:
            yield (rng.uniform(-1, 1, size=(50, 16, 16, 3)) * 0.5 + offset).astype(np.float32)

    same = compare_image_sets(batches(0.0), batches(0.0), extract, 400, kid_subsets=10,
                              kid_subset_size=200)
    other = compare_image_sets(batches(0.0), batches(0.4), extract, 400, kid_subsets=10,
                               kid_subset_size=200)
    assert same["generated_images"] == same["real_images"] == 400
    assert other["fid"] > 10 * same["fid"] and other["kid"] > same["kid"]


@pytest.mark.slow
def test_cli_evaluate_dcgan_and_pix2pix_runs(tmp_path, capsys):
    dcgan_run = tmp_path / "dcgan"
    train(get_application("dcgan").resolve(TrainConfig.create(
        "dcgan", dataset="builtin", image_size=16, channels=3, batch_size=8, epochs=1,
        steps_per_epoch=2, latent_dim=8, base_filters=8, xla=False, output=str(dcgan_run))),
        verbose=0)
    features = _feature_model(tmp_path / "f.keras")
    capsys.readouterr()  # (TFDS may have reported preparing the built-in set)
    assert main(["evaluate", str(dcgan_run), "--features", features, "--num", "60",
                 "--batch-size", "25"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["application"] == "dcgan" and report["generated_images"] == 60
    assert report["real_images"] == 60 and report["fid"] >= 0 and "kid_std" in report

    keras_home = tmp_path / "keras-home"
    os.environ["KERAS_HOME"] = str(keras_home)
    try:
        assert main(["evaluate", str(dcgan_run), "--num", "10"]) == 2
    finally:
        del os.environ["KERAS_HOME"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "InceptionV3 weights not found" in err[0]

    pix2pix_run = tmp_path / "pix2pix"
    train(get_application("pix2pix").resolve(TrainConfig.create(
        "pix2pix", dataset="builtin", image_size=32, batch_size=4, epochs=1, steps_per_epoch=2,
        base_filters=4, output=str(pix2pix_run))), verbose=0)
    capsys.readouterr()
    assert main(["evaluate", str(pix2pix_run)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["application"] == "pix2pix" and 0 <= report["mean_iou"] <= 1
    with open(pix2pix_run / "evaluation.json") as f:
        assert json.load(f)["mean_iou"] == pytest.approx(report["mean_iou"])
    assert main(["evaluate", str(pix2pix_run), "--features", features]) == 2
    assert "apply to DCGAN runs" in capsys.readouterr().err


@pytest.mark.slow
def test_fid_every_epoch_is_in_the_history(tmp_path):
    from tfgan_apps import load_tfds_images
    from tfgan_apps.feature_metrics import fid_every

    extract = keras_model_extractor(_feature_model(tmp_path / "f.keras"))
    real = load_tfds_images("builtin", image_size=16, channels=3, batch_size=20, shuffle=False)
    result = train(get_application("dcgan").resolve(TrainConfig.create(
        "dcgan", dataset="builtin", image_size=16, channels=3, batch_size=8, epochs=3,
        steps_per_epoch=2, latent_dim=8, base_filters=8, xla=False,
        output=str(tmp_path / "run"))), callbacks=[fid_every(real, extract, num=40, every=2)],
        verbose=0)
    with open(tmp_path / "run" / "history.json") as f:
        history = json.load(f)
    # every 2 epochs and the last: epochs 2 and 3
    assert history["fid"][0] is None and all(v >= 0 for v in history["fid"][1:])
    assert len(history["fid"]) == 3 and len(history["kid"]) == 3
    assert result.history["fid"] == history["fid"]


def test_unpaired_translation_measures_of_the_identity():
    from tfgan_apps.metrics import unpaired_translation_measures

    rng = np.random.default_rng(0)
    sources = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    references = rng.integers(0, 128, (6, 16, 16, 3), dtype=np.uint8)
    truths = 255 - sources
    figures = unpaired_translation_measures(sources, sources, references, truths)
    # doing nothing: colour distance 1 (relative to itself), edges kept, no PSNR gain
    assert figures["colour_sw_relative"] == pytest.approx(1.0)
    assert figures["edge_correlation"] == pytest.approx(1.0, abs=1e-4)
    assert figures["psnr_gain_db"] == pytest.approx(0.0, abs=1e-3)
    assert figures["ssim"] == figures["identity_ssim"]
    without_truth = unpaired_translation_measures(truths, sources, references)
    assert set(without_truth) == {"colour_sw_relative", "edge_correlation"}
    # the negative keeps every edge (gradient magnitudes ignore the sign of a contrast)
    assert without_truth["edge_correlation"] == pytest.approx(1.0, abs=1e-4)


def test_cli_evaluate_cyclegan_run(tmp_path, capsys):
    run_dir = tmp_path / "cyclegan"
    train(get_application("cyclegan").resolve(TrainConfig.create(
        "cyclegan", dataset="builtin", image_size=32, batch_size=1, epochs=1,
        steps_per_epoch=2, base_filters=4, num_residual_blocks=1, xla=False,
        output=str(run_dir))), verbose=0)
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--num", "12", "--batch-size", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["application"] == "cyclegan" and report["images"] == 12
    assert report["colour_sw_relative"] > 0 and -1 <= report["edge_correlation"] <= 1
    assert report["identity_psnr_db"] > 0 and "psnr_gain_db" in report


def _stand_in_fid_graph(path) -> None:
    """A frozen TF1 GraphDef with the original FID graph's interface: input ``ExpandDims:0``
    (float [1, H, W, 3] in [0, 255]), output ``pool_3:0`` ([1, 1, 1, C]); here C = 6: each
    channel's mean and its square's mean / 255."""
    graph = tf.Graph()
    with graph.as_default():
        pixels = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="DecodeJpeg")
        expanded = tf.identity(pixels, name="ExpandDims")
        mean = tf.reduce_mean(expanded, axis=[1, 2], keepdims=True)
        square = tf.reduce_mean(expanded * expanded, axis=[1, 2], keepdims=True) / 255.0
        tf.concat([mean, square], axis=-1, name="pool_3")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())


def test_fid_inception_graph_extractor_feeds_the_graph_as_the_reference_does(tmp_path):
    from tfgan_apps.feature_metrics import feature_extractor

    path = str(tmp_path / "classify_image_graph_def.pb")
    _stand_in_fid_graph(path)
    extract = feature_extractor(path)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 10, 3)).astype("float32")
    features = np.asarray(extract(images))
    pixels = (images + 1) * 127.5  # the reference feeds [0, 255]
    want = np.concatenate([pixels.mean(axis=(1, 2)), (pixels ** 2).mean(axis=(1, 2)) / 255],
                          axis=-1)
    np.testing.assert_allclose(features, want, rtol=1e-5)
    gray = np.asarray(extract(images[..., :1]))  # grayscale is repeated to RGB
    assert gray.shape == (3, 6) and np.allclose(gray[:, 0], gray[:, 1])

    with pytest.raises(UserPathError, match="not found.*inception-2015-12-05"):
        feature_extractor(str(tmp_path / "missing.pb"))
    (tmp_path / "junk.pb").write_bytes(b"not a graph")
    with pytest.raises(UserError, match="junk.pb is not"):
        feature_extractor(str(tmp_path / "junk.pb"))
    other = tf.Graph()
    with other.as_default():
        tf.constant(1.0, name="x")
    (tmp_path / "other.pb").write_bytes(other.as_graph_def().SerializeToString())
    with pytest.raises(UserError, match="not the FID Inception graph"):
        feature_extractor(str(tmp_path / "other.pb"))
