"""A client of TF Serving's REST and gRPC Predict APIs (and of its model metadata).

:func:`predict_rest` and :func:`predict_grpc` send one Predict request and return the outputs
as numpy arrays in the signature's dtypes (``*_bytes`` outputs as ``bytes`` objects). Every
failure a user can cause or fix (no server there, an unknown model, version or signature, input
the model refuses) is a :class:`ServingError`: one line naming the server, the model and the
server's own reason.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from tfgan_apps.errors import UserError
from tfgan_apps.export.warmup import predict_request
from tfgan_apps.serving.config import GRPC_PORT

#: seconds a client call waits for the server's answer
DEFAULT_TIMEOUT = 60.0

SignatureDefs = dict[str, meta_graph_pb2.SignatureDef]


class ServingError(UserError):
    """TF Serving could not be reached, or refused a request (unknown model or signature, input
    the model refuses); the message is one line with the server's reason."""


@dataclass(frozen=True)
class _Call:
    """What a request was, for its error messages."""

    server: str
    api: str  # "REST" or "gRPC"
    model: str
    version: int | None = None
    signature: str | None = None

    @property
    def what(self) -> str:
        version = f" version {self.version}" if self.version is not None else ""
        return f"model {self.model!r}{version}"


def _one_line(text: str) -> str:
    """The first meaningful line of a server's message (TF's op errors add node lines)."""
    for line in text.splitlines():
        line = line.split("\t [[", 1)[0].strip()
        if line and not line.startswith(("[[", "Graph execution error")):
            return line
    return text.strip() or "no reason given"


def _unreachable(call: _Call, reason: str) -> ServingError:
    return ServingError(f"cannot reach TF Serving at {call.server} ({call.api}): {reason}; is "
                        "the server running? (`tfgan-apps serving-config` prints the docker "
                        "command that starts it)")


def _refused_request(call: _Call, code: str, message: str) -> ServingError:
    """The :class:`ServingError` of a request TF Serving answered with status ``code``."""
    reason = _one_line(message)
    if code == "NOT_FOUND":
        return ServingError(f"TF Serving at {call.server} has no {call.what}: {reason} (it "
                            "serves the models listed in its models.config)")
    if code == "INVALID_ARGUMENT" and "not found in signature def" in message:
        return ServingError(f"{call.what} on {call.server} has no signature "
                            f"{call.signature!r}: {reason}")
    if code == "INVALID_ARGUMENT":
        return ServingError(f"TF Serving refused the request to {call.what}, signature "
                            f"{call.signature!r} (InvalidArgument): {reason}")
    if code == "DEADLINE_EXCEEDED":
        return ServingError(f"TF Serving at {call.server} did not answer in time for "
                            f"{call.what}: {reason}")
    return ServingError(f"TF Serving at {call.server} failed the request to {call.what} "
                        f"({code}): {reason}")


def _unknown_signature(call: _Call, signatures: SignatureDefs) -> ServingError:
    return ServingError(f"{call.what} on {call.server} has no signature {call.signature!r}; "
                        f"it has {sorted(signatures)}")


def _serving_signatures(signature_map: get_model_metadata_pb2.SignatureDefMap
                        ) -> SignatureDefs:
    """The request signatures of a ``SignatureDefMap`` (not ``__saved_model_init_op``)."""
    return {name: signature for name, signature in signature_map.signature_def.items()
            if not name.startswith("__")}


# ------------------------------------------------------------------------------------ REST
def _rest_base(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


def _model_path(model: str, version: int | None) -> str:
    path = f"/v1/models/{urllib.parse.quote(model, safe='')}"
    return path if version is None else f"{path}/versions/{int(version)}"


_HTTP_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED",
               504: "DEADLINE_EXCEEDED"}


def _http_json(call: _Call, url: str, body: dict | None, timeout: float) -> dict:
    """GET (``body`` None) or POST JSON to ``url``; the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read().decode("utf-8", "replace")
        try:
            message = str(json.loads(raw).get("error", raw))
        except (ValueError, AttributeError):
            message = raw or error.reason
        raise _refused_request(call, _HTTP_CODES.get(error.code, f"HTTP {error.code}"),
                               message) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            raise _unreachable(call, "connection refused") from None
        if isinstance(reason, TimeoutError):
            raise _refused_request(call, "DEADLINE_EXCEEDED",
                                   f"no answer within {timeout:g} s") from None
        raise _unreachable(call, str(reason)) from None
    except TimeoutError:
        raise _refused_request(call, "DEADLINE_EXCEEDED",
                               f"no answer within {timeout:g} s") from None
    except ConnectionError as error:  # reset or closed mid-answer
        raise _unreachable(call, error.strerror or type(error).__name__) from None
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ServingError(f"{call.server} answered {url} with something other than TF "
                           "Serving's JSON; is it TF Serving's REST port (8501)?")
    return answer


def signature_defs_rest(url: str, model: str, version: int | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> SignatureDefs:
    """The model's signatures from TF Serving's REST metadata API
    (``GET {url}/v1/models/{model}[/versions/N]/metadata``).

    Returns:
        Signature name -> ``SignatureDef`` (input/output names, dtypes, shapes).

    Raises:
        ServingError: no server there, or no such model or version.
    """
    base = _rest_base(url)
    call = _Call(base, "REST", model, version)
    answer = _http_json(call, base + _model_path(model, version) + "/metadata", None, timeout)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    try:
        json_format.ParseDict(answer["metadata"]["signature_def"], signature_map,
                              ignore_unknown_fields=True)
    except (KeyError, TypeError, json_format.ParseError):
        raise ServingError(f"{base} answered the metadata request of {call.what} without "
                           "signatures; is it TF Serving?") from None
    return _serving_signatures(signature_map)


def rest_request(signature: str, inputs: Mapping[str, Any]) -> dict:
    """The JSON body of a TF Serving REST Predict request in the columnar ("inputs") format.

    Args:
        signature: the signature name.
        inputs: input name -> array-like. Inputs named ``*_bytes`` (image files) are sent as
            ``{"b64": base64}`` per element, as TF Serving's REST API requires for binary
            strings; numbers as nested lists.

    Returns:
        ``{"signature_name": signature, "inputs": {name: nested lists}}``.
    """
    def encode(name: str, value: Any) -> Any:
        array = np.asarray(value, dtype=object if name.endswith("_bytes") else None)
        if name.endswith("_bytes"):
            return _map_nested(array.tolist(), lambda v: {
                "b64": base64.b64encode(v if isinstance(v, bytes) else str(v).encode())
                .decode("ascii")})
        if array.dtype.kind in "SO":
            return _map_nested(array.tolist(), lambda v: v.decode() if isinstance(v, bytes)
                               else v)
        return array.tolist()

    return {"signature_name": signature,
            "inputs": {name: encode(name, value) for name, value in inputs.items()}}


def _map_nested(value: Any, function: Any) -> Any:
    if isinstance(value, list):
        return [_map_nested(v, function) for v in value]
    return function(value)


def _b64_object(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)


def decode_rest_outputs(outputs: Any, signature: meta_graph_pb2.SignatureDef
                        ) -> dict[str, np.ndarray]:
    """TF Serving's REST ``"outputs"`` back to arrays of the signature's dtypes.

    Args:
        outputs: the answer's ``"outputs"``: output name -> nested lists, or (TF Serving omits
            the name when a signature has one output) the single output's nested lists.
            ``{"b64": ...}`` elements (outputs named ``*_bytes``) become ``bytes``.
        signature: the signature's ``SignatureDef`` (names and dtypes of its outputs).

    Returns:
        Output name -> ``np.ndarray`` (string outputs: ``object`` arrays of ``bytes``).

    Raises:
        ServingError: the answer does not match the signature's outputs.
    """
    names = list(signature.outputs)
    if isinstance(outputs, dict) and not _b64_object(outputs):
        named = outputs
    elif len(names) == 1:
        named = {names[0]: outputs}
    else:
        raise ServingError(f"TF Serving's answer has one unnamed output; the signature has "
                           f"{sorted(names)}")
    if set(named) != set(names):
        raise ServingError(f"TF Serving's answer has outputs {sorted(named)}; the signature "
                           f"has {sorted(names)}")
    decoded = {}
    for name, value in named.items():
        dtype = tf.dtypes.as_dtype(signature.outputs[name].dtype)
        if dtype == tf.string:
            decoded[name] = np.array(_map_nested(value, lambda v: base64.b64decode(v["b64"])
                                                 if _b64_object(v) else str(v).encode()),
                                     dtype=object)
        else:
            decoded[name] = np.asarray(value, dtype=dtype.as_numpy_dtype)
    return decoded


def _predict_rest(base: str, model: str, signature: str, inputs: Mapping[str, Any],
                  version: int | None, timeout: float, signatures: SignatureDefs
                  ) -> dict[str, np.ndarray]:
    call = _Call(base, "REST", model, version, signature)
    if signature not in signatures:
        raise _unknown_signature(call, signatures)
    answer = _http_json(call, base + _model_path(model, version) + ":predict",
                        rest_request(signature, inputs), timeout)
    if "outputs" not in answer:
        raise ServingError(f"{base} answered the Predict request of {call.what} without "
                           "outputs; is it TF Serving?")
    return decode_rest_outputs(answer["outputs"], signatures[signature])


def predict_rest(url: str, model: str, signature: str, inputs: Mapping[str, Any],
                 version: int | None = None, timeout: float = DEFAULT_TIMEOUT
                 ) -> dict[str, np.ndarray]:
    """Run ``model``'s ``signature`` on TF Serving through its REST API.

    Two requests: the model's metadata (``GET .../metadata``: the signature's output names and
    dtypes, which JSON does not carry), then ``POST {url}/v1/models/{model}[/versions/N]:predict``
    with :func:`rest_request`'s body.

    Args:
        url: the REST address, e.g. ``http://localhost:8501`` (``http://`` may be left out).
        model: the model name (its directory under the export dir).
        signature: e.g. ``serving_default``, ``generate_png``, ``a2b_image_bytes``.
        inputs: input name -> array-like: float32 ``z`` ``[batch, latent_dim]``, uint8
            ``images`` ``[batch, H, W, 3]``, or ``image_bytes``: a list of image files' bytes.
        version: a specific version; None: the latest one loaded.
        timeout: seconds to wait for each answer.

    Returns:
        Output name -> ``np.ndarray`` of the signature's dtype (``*_bytes`` outputs:
        ``object`` arrays of ``bytes``, e.g. PNG files).

    Raises:
        ServingError: no server there, unknown model, version or signature, or the model
            refused the input (``InvalidArgument``, with the server's reason).

    Example:
        >>> out = predict_rest("localhost:8501", "dcgan", "generate_png",
        ...                    {"z": np.zeros((1, 100), np.float32)})
        >>> open("sample.png", "wb").write(out["png_bytes"][0])
    """
    base = _rest_base(url)
    signatures = signature_defs_rest(base, model, version, timeout)
    return _predict_rest(base, model, signature, inputs, version, timeout, signatures)


# ------------------------------------------------------------------------------------ gRPC
def _grpc_target(target: str) -> str:
    target = target.strip().rstrip("/")
    if target.startswith("grpc://"):
        target = target[len("grpc://"):]
    if "://" in target:
        raise UserError(f"a gRPC server is HOST:PORT (e.g. localhost:{GRPC_PORT}), got "
                        f"{target!r}")
    return target


def _grpc_call(call: _Call, method: str, request: Any, timeout: float) -> Any:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    # No message size limit on our side: a pix2pix answer holds K floats per pixel.
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    with grpc.insecure_channel(call.server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except grpc.RpcError as error:
            code, details = error.code(), error.details() or ""
            if code == grpc.StatusCode.UNAVAILABLE:
                reason = ("connection refused" if "refused" in details.lower()
                          else _one_line(details))
                raise _unreachable(call, reason) from None
            raise _refused_request(call, code.name, details) from None


def signature_defs_grpc(target: str, model: str, version: int | None = None,
                        timeout: float = DEFAULT_TIMEOUT) -> SignatureDefs:
    """The model's signatures from TF Serving's gRPC ``GetModelMetadata``.

    Returns:
        Signature name -> ``SignatureDef``.

    Raises:
        ServingError: no server there, or no such model or version.
    """
    target = _grpc_target(target)
    call = _Call(target, "gRPC", model, version)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = int(version)
    response = _grpc_call(call, "GetModelMetadata", request, timeout)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata["signature_def"].Unpack(signature_map):
        raise ServingError(f"{target} answered the metadata request of {call.what} without "
                           "signatures; is it TF Serving?")
    return _serving_signatures(signature_map)


def predict_grpc(target: str, model: str, signature: str, inputs: Mapping[str, Any],
                 version: int | None = None, timeout: float = DEFAULT_TIMEOUT
                 ) -> dict[str, np.ndarray]:
    """Run ``model``'s ``signature`` on TF Serving through its gRPC ``PredictionService``.

    The request is :func:`tfgan_apps.export.warmup.predict_request` (a ``PredictRequest``
    with one ``TensorProto`` per input, of the array's own dtype: send float32 noise and uint8
    images, TF Serving refuses other dtypes); the answer's ``TensorProto`` outputs become
    arrays with ``tf.make_ndarray``.

    Args:
        target: ``HOST:PORT`` of the gRPC port, e.g. ``localhost:8500``.
        model, signature, inputs, version, timeout: as for :func:`predict_rest`.

    Returns:
        Output name -> ``np.ndarray`` (string outputs: ``object`` arrays of ``bytes``).

    Raises:
        ServingError: as for :func:`predict_rest`.
    """
    target = _grpc_target(target)
    call = _Call(target, "gRPC", model, version, signature)
    encoded = {name: np.asarray(value, dtype=object) if name.endswith("_bytes") else value
               for name, value in inputs.items()}
    request = predict_request(model, signature, encoded, version)
    response = _grpc_call(call, "Predict", request, timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


__all__ = ["DEFAULT_TIMEOUT", "ServingError", "SignatureDefs", "decode_rest_outputs",
           "predict_grpc", "predict_rest", "rest_request", "signature_defs_grpc",
           "signature_defs_rest"]
