"""TF Serving: its ``models.config``, a client of its REST and gRPC Predict APIs, and
``tfgan-apps predict``.

- :mod:`~tfgan_apps.serving.config`: :func:`write_models_config` (TF Serving's
  ``ModelServerConfig`` for every model of an export directory) and :func:`docker_command`;
- :mod:`~tfgan_apps.serving.client`: :func:`predict_rest`, :func:`predict_grpc` (numpy arrays
  in, numpy arrays out) and their one-line :class:`ServingError`;
- :mod:`~tfgan_apps.serving.predict`: :func:`predict_file`, the ``tfgan-apps predict`` command.

Warm-up records, which every export carries, are :mod:`tfgan_apps.export.warmup`.
"""

from tfgan_apps.serving.client import (
    DEFAULT_TIMEOUT,
    ServingError,
    decode_rest_outputs,
    predict_grpc,
    predict_rest,
    rest_request,
    signature_defs_grpc,
    signature_defs_rest,
)
from tfgan_apps.serving.config import (
    CONTAINER_MODELS_DIR,
    GRPC_PORT,
    MODELS_CONFIG,
    REST_PORT,
    docker_command,
    models_config,
    served_models,
    write_models_config,
)
from tfgan_apps.serving.predict import noise_from_seed, predict_file

__all__ = [
    "CONTAINER_MODELS_DIR",
    "DEFAULT_TIMEOUT",
    "GRPC_PORT",
    "MODELS_CONFIG",
    "REST_PORT",
    "ServingError",
    "decode_rest_outputs",
    "docker_command",
    "models_config",
    "noise_from_seed",
    "predict_file",
    "predict_grpc",
    "predict_rest",
    "rest_request",
    "served_models",
    "signature_defs_grpc",
    "signature_defs_rest",
    "write_models_config",
]
