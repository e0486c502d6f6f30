"""``tfgan-apps predict``: one image file (or DCGAN noise) to TF Serving, the PNG back."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from tfgan_apps.atomic import write_with
from tfgan_apps.errors import UserError, UserPathError
from tfgan_apps.serving.client import (
    DEFAULT_TIMEOUT,
    _Call,
    _grpc_target,
    _predict_rest,
    _rest_base,
    _unknown_signature,
    predict_grpc,
    signature_defs_grpc,
    signature_defs_rest,
)
from tfgan_apps.serving.config import GRPC_PORT, REST_PORT

#: the second half of the noise seed of :func:`noise_from_seed` (``tfgan-apps generate``'s)
NOISE_SEED_SALT = 0x5EED


def noise_from_seed(seed: int, latent_dim: int) -> np.ndarray:
    """float32 ``[1, latent_dim]`` standard normal noise of ``seed``: the noise of
    ``tfgan-apps generate --num 1 --seed SEED``."""
    return tf.random.stateless_normal((1, latent_dim), seed=[seed, NOISE_SEED_SALT]).numpy()


def _is_noise_signature(signature: meta_graph_pb2.SignatureDef) -> bool:
    (spec,) = signature.inputs.values()
    return spec.dtype == tf.float32.as_datatype_enum and len(spec.tensor_shape.dim) == 2


def _is_file_signature(signature: meta_graph_pb2.SignatureDef) -> bool:
    ((name, spec),) = signature.inputs.items()
    return name.endswith("_bytes") and spec.dtype == tf.string.as_datatype_enum


def _png_output(signature: meta_graph_pb2.SignatureDef) -> str | None:
    names = [n for n, spec in signature.outputs.items()
             if n.endswith("_bytes") and spec.dtype == tf.string.as_datatype_enum]
    return names[0] if len(signature.outputs) == 1 and names else None


def _read_input(path: str) -> tuple[str, Any]:
    """``("noise", seed or float32 array)`` or ``("image", file bytes)`` of INPUT."""
    if os.path.isfile(path):
        if path.lower().endswith(".npy"):
            try:
                noise = np.load(path, allow_pickle=False)
            except ValueError as error:
                raise UserError(f"cannot read noise from {path}: {error}") from None
            return "noise", noise
        with open(path, "rb") as f:
            return "image", f.read()
    if path.isdigit():
        return "noise", int(path)
    raise UserPathError(f"INPUT {path} does not exist (give an image file, or for a DCGAN a "
                        "seed integer or a noise .npy file)")


def predict_file(server: str | None, model: str, input_path: str, output_path: str,
                 signature: str | None = None, version: int | None = None,
                 use_grpc: bool = False, timeout: float = DEFAULT_TIMEOUT) -> tuple[str, str]:
    """``tfgan-apps predict``: send one input to TF Serving, write the PNG it returns.

    The model's signatures are read from the server's metadata; the signature used is the
    one that takes INPUT's kind and returns one PNG per input (``*_bytes``):

    - an image file (PNG/JPEG/BMP/GIF; sent as it is): pix2pix ``segment_image_bytes`` (the
      class-id mask PNG) or ``translate_image_bytes``, CycleGAN ``a2b_image_bytes`` (the first
      in name order; ``--signature b2a_image_bytes`` for the other direction);
    - a seed integer (the noise of ``tfgan-apps generate --num 1 --seed SEED``) or a ``.npy``
      file of ``latent_dim`` float32 values (``[latent_dim]`` or ``[1, latent_dim]``): DCGAN
      ``generate_png``.

    Args:
        server: REST URL (default ``http://localhost:8501``) or, with ``use_grpc``, gRPC
            ``HOST:PORT`` (default ``localhost:8500``).
        model: the model name on the server.
        input_path: the image file, seed or noise file.
        output_path: the PNG to write (atomically).
        signature: a signature name instead of the one chosen as above.
        version: a specific version (default the latest loaded).
        use_grpc: gRPC instead of REST.
        timeout: seconds to wait for each answer.

    Returns:
        ``(output_path, signature used)``.

    Raises:
        ServingError: see :func:`predict_rest`.
        UserError: INPUT missing or of a kind the model takes no signature for, noise of the
            wrong size.
    """
    if use_grpc:
        server = _grpc_target(server or f"localhost:{GRPC_PORT}")
        signatures = signature_defs_grpc(server, model, version, timeout)
    else:
        server = _rest_base(server or f"http://localhost:{REST_PORT}")
        signatures = signature_defs_rest(server, model, version, timeout)
    kind, value = _read_input(input_path)
    takes = _is_noise_signature if kind == "noise" else _is_file_signature
    fitting = sorted(name for name, sd in signatures.items()
                     if len(sd.inputs) == 1 and takes(sd) and _png_output(sd))
    described = ("noise (a seed or a .npy file)" if kind == "noise" else "an image file")
    if signature is None:
        if not fitting:
            raise UserError(f"model {model!r} has no signature that takes {described} and "
                            f"returns a PNG (it has {sorted(signatures)})")
        signature = fitting[0]
    elif signature not in signatures:
        raise _unknown_signature(_Call(server, "gRPC" if use_grpc else "REST", model, version,
                                       signature), signatures)
    elif signature not in fitting:
        raise UserError(f"signature {signature!r} of model {model!r} does not take "
                        f"{described} and return a PNG; those that do: {fitting}")
    definition = signatures[signature]
    (input_name,) = definition.inputs
    if kind == "noise":
        latent_dim = definition.inputs[input_name].tensor_shape.dim[1].size
        if isinstance(value, int):
            noise = noise_from_seed(value, latent_dim)
        elif value.dtype.kind == "f" and value.ndim in (1, 2) and value.size == latent_dim:
            noise = value.astype(np.float32).reshape(1, latent_dim)
        else:
            raise UserError(f"{input_path} holds {value.dtype} {list(value.shape)}; "
                            f"{model!r} takes one noise vector of {latent_dim} floats "
                            f"([{latent_dim}] or [1, {latent_dim}])")
        inputs = {input_name: noise}
    else:
        inputs = {input_name: [value]}
    if use_grpc:
        outputs = predict_grpc(server, model, signature, inputs, version, timeout)
    else:
        outputs = _predict_rest(server, model, signature, inputs, version, timeout, signatures)
    png = outputs[_png_output(definition)].reshape(-1)[0]

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(png)

    return write_with(output_path, write, "PNG"), signature


__all__ = ["NOISE_SEED_SALT", "noise_from_seed", "predict_file"]
