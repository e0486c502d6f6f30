"""Segmentation metrics against a hand-computed example (pixel accuracy, per-class/mean IoU)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps.metrics import (
    PixelAccuracy,
    SegmentationConfusionMatrix,
    SegmentationMeanIoU,
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)

# One 3x4 image, 4 classes; class 3 occurs nowhere (no IoU).
LABELS = np.array([[[0, 0, 1, 1],
                    [0, 0, 1, 1],
                    [2, 2, 2, 2]]])
PREDICTIONS = np.array([[[0, 1, 1, 1],
                         [0, 0, 0, 1],
                         [2, 2, 1, 2]]])
# By hand. Rows true, columns predicted:
#   class 0: 4 true, 3 right, 1 -> 1;  class 1: 4 true, 3 right, 1 -> 0;
#   class 2: 4 true, 3 right, 1 -> 1.
EXPECTED_CONFUSION = np.array([[3, 1, 0, 0],
                               [1, 3, 0, 0],
                               [0, 1, 3, 0],
                               [0, 0, 0, 0]])
# IoU_0 = 3 / (4 + 4 - 3) = 3/5; IoU_1 = 3 / (4 + 5 - 3) = 1/2; IoU_2 = 3 / (4 + 3 - 3) = 3/4.
EXPECTED_IOU = [0.6, 0.5, 0.75]
EXPECTED_MEAN_IOU = (0.6 + 0.5 + 0.75) / 3
EXPECTED_ACCURACY = 9 / 12


def logits_for(predictions: np.ndarray, num_classes: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=predictions.shape + (num_classes,)).astype("float32")
    np.put_along_axis(logits, predictions[..., None], 10.0, axis=-1)
    return logits


def test_confusion_matrix_and_figures_by_hand():
    confusion = confusion_matrix(LABELS, PREDICTIONS, 4)
    np.testing.assert_array_equal(confusion, EXPECTED_CONFUSION)
    iou = per_class_iou(confusion)
    np.testing.assert_allclose(iou[:3], EXPECTED_IOU)
    assert np.isnan(iou[3])
    assert mean_iou(confusion) == pytest.approx(EXPECTED_MEAN_IOU)
    assert pixel_accuracy(confusion) == pytest.approx(EXPECTED_ACCURACY)
    # Scores instead of ids: argmax over the last axis.
    np.testing.assert_array_equal(confusion_matrix(LABELS, logits_for(PREDICTIONS), 4),
                                  EXPECTED_CONFUSION)


def test_labels_outside_the_classes_are_ignored():
    labels = LABELS.copy()
    labels[0, 0, 0] = 255  # "void"
    confusion = confusion_matrix(labels, PREDICTIONS, 4)
    assert confusion.sum() == 11 and confusion[0, 0] == 2


def test_empty_confusion_gives_nan():
    assert np.isnan(mean_iou(np.zeros((3, 3)))) and np.isnan(pixel_accuracy(np.zeros((3, 3))))


@pytest.mark.parametrize("jit", [False, True])
def test_streaming_metrics_match_by_hand_over_two_batches(jit):
    iou_metric, accuracy_metric = SegmentationMeanIoU(4), PixelAccuracy(4)
    logits = logits_for(PREDICTIONS)

    def update(labels, scores):
        iou_metric.update_state(labels, scores)
        accuracy_metric.update_state(labels, scores)

    step = tf.function(update, jit_compile=jit)
    # The image split in two batches (rows 0-1, row 2): streaming must equal one pass.
    step(tf.constant(LABELS[:, :2]), tf.constant(logits[:, :2]))
    step(tf.constant(LABELS[:, 2:]), tf.constant(logits[:, 2:]))
    assert float(iou_metric.result()) == pytest.approx(EXPECTED_MEAN_IOU, abs=1e-6)
    assert float(accuracy_metric.result()) == pytest.approx(EXPECTED_ACCURACY, abs=1e-6)
    per_class = iou_metric.per_class_iou().numpy()
    np.testing.assert_allclose(per_class[:3], EXPECTED_IOU, atol=1e-6)
    assert np.isnan(per_class[3])
    iou_metric.reset_state()
    assert float(iou_metric.result()) == 0.0


def test_streaming_metric_accepts_predicted_ids_and_serializes():
    metric = SegmentationConfusionMatrix(4)
    metric.update_state(LABELS, PREDICTIONS)
    np.testing.assert_array_equal(metric.result().numpy(), EXPECTED_CONFUSION)
    clone = keras.metrics.deserialize(keras.metrics.serialize(SegmentationMeanIoU(4, name="x")))
    assert isinstance(clone, SegmentationMeanIoU) and clone.num_classes == 4 and clone.name == "x"


def test_metrics_in_compiled_keras_model():
    """The metrics work in a plain ``compile``/``evaluate`` (sparse labels, logits)."""
    inputs = keras.Input((3, 4, 4))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[SegmentationMeanIoU(4), PixelAccuracy(4)], jit_compile=False)
    results = model.evaluate(logits_for(PREDICTIONS), LABELS, verbose=0, return_dict=True)
    assert results["mean_iou"] == pytest.approx(EXPECTED_MEAN_IOU, abs=1e-6)
    assert results["pixel_accuracy"] == pytest.approx(EXPECTED_ACCURACY, abs=1e-6)


def test_num_classes_is_validated():
    with pytest.raises(ValueError, match="num_classes"):
        SegmentationMeanIoU(1)
