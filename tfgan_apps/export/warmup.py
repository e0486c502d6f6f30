"""TF Serving warm-up records: one ``PredictRequest`` per signature, shipped with each export.

TF Serving replays ``VERSION/assets.extra/tf_serving_warmup_requests`` (a TFRecord file of
``tensorflow.serving.PredictionLog`` records) when it loads a version, before it marks the
version available, so the first user request does not pay for graph initialisation and any
lazily built kernels. A record that fails stops the version from loading, which is why each
application declares a small *valid* example input per signature
(:attr:`tfgan_apps.apps.SignatureSpec.example`).

The requests are built with the ``tensorflow-serving-api`` protos; :func:`predict_request` is
also what the gRPC client (:func:`tfgan_apps.serving.predict_grpc`) sends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

#: where TF Serving looks for warm-up records inside a version directory
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")

#: TF Serving refuses warm-up files with more records than this
MAX_WARMUP_RECORDS = 1000


def predict_request(model: str, signature: str, inputs: Mapping[str, np.ndarray | object],
                    version: int | None = None) -> predict_pb2.PredictRequest:
    """A ``tensorflow.serving.PredictRequest`` for ``model``'s ``signature``.

    Args:
        model: the model name TF Serving knows (``model_spec.name``).
        signature: the signature name (``model_spec.signature_name``).
        inputs: input name -> array-like; each becomes a ``TensorProto`` of the array's dtype
            (``tf.make_tensor_proto``): float32 noise ``[batch, latent_dim]``, uint8 images
            ``[batch, H, W, 3]``, or image file bytes as an object/bytes array ``[batch]``.
        version: a specific version; None: the latest TF Serving has loaded.

    Returns:
        The request proto.
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def warmup_records(model: str, examples: Mapping[str, Mapping[str, np.ndarray]]
                   ) -> list[prediction_log_pb2.PredictionLog]:
    """One ``PredictionLog`` (a ``PredictLog`` holding a ``PredictRequest``) per signature.

    Args:
        model: the exported model's name (the records' ``model_spec.name``).
        examples: signature name -> its example inputs (input name -> array).

    Returns:
        The records, in the order of ``examples``.
    """
    return [prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(
            request=predict_request(model, signature, inputs)))
        for signature, inputs in examples.items()]


def write_warmup_requests(saved_model_dir: str, model: str,
                          examples: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """Write :func:`warmup_records` to ``saved_model_dir/assets.extra/tf_serving_warmup_requests``.

    Called on the export's temporary directory, before it is renamed into place, so a version
    never appears without its warm-up file.

    Args:
        saved_model_dir: a SavedModel directory (``saved_model.pb`` already written).
        model: the exported model's name.
        examples: signature name -> its example inputs.

    Returns:
        The path of the written file.

    Raises:
        ValueError: more than :data:`MAX_WARMUP_RECORDS` signatures (a bug of the caller).
    """
    records = warmup_records(model, examples)
    if len(records) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(records)} warm-up records; TF Serving reads at most "
                         f"{MAX_WARMUP_RECORDS}")
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    return path


__all__ = ["MAX_WARMUP_RECORDS", "WARMUP_FILE", "predict_request", "warmup_records",
           "write_warmup_requests"]
