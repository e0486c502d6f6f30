"""Stand-ins for TF Serving's model server, for the serving tests (no TF Serving binary here).

They do what the server does on its side of the door, on the paths it uses:

- :class:`SessionModel` loads an export with TensorFlow's session-based loader and the
  ``serve`` tag (``tf.compat.v1.saved_model.loader.load``; TF Serving's C++ loader does the
  same) and runs a signature by its SignatureDef tensor names.
- :class:`FakeModelServer` answers ``PredictRequest``s and ``GetModelMetadataRequest``s as
  TF Serving's predictor does: the ``Servable not found`` NOT_FOUND, the ``Serving signature
  name ... not found`` / missing input / wrong dtype INVALID_ARGUMENTs, the model's own
  InvalidArgument errors.
- :func:`json_to_tensor_proto` and :func:`tensors_to_json` follow TF Serving's REST JSON
  mapping (``tensorflow_serving/util/json_tensor.cc``): request values typed by the
  signature's dtypes, ``{"b64": ...}`` for binary strings, and in the answer the single
  output left unnamed, ``*_bytes`` outputs base64-wrapped, floats written shortest.
- :func:`grpc_server` and :func:`rest_server` put a :class:`FakeModelServer` behind a real
  ``grpc.server`` / ``http.server`` on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import keras
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tfgan_apps import DCGAN, CycleGAN, Pix2Pix, export_saved_model, get_application
from tfgan_apps.apps import SignatureSpec
from tfgan_apps.networks import (
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_patch_discriminator,
    build_unet_generator,
)


# ----------------------------------------------------------------------------- the exports
@dataclass
class Export:
    """One tiny export: its name on the server, model, version directory and signature table."""

    name: str
    model: keras.Model
    path: str
    specs: dict[str, SignatureSpec]

    def example(self, signature: str) -> dict[str, np.ndarray]:
        return self.specs[signature].example(self.model)


def tiny_models() -> dict[str, keras.Model]:
    """Untrained tiny models of the three applications (pix2pix in both modes)."""
    tf.keras.utils.set_random_seed(0)
    return {
        "dcgan": DCGAN(build_dcgan_generator(28, 1, 8, 8), build_dcgan_discriminator(28, 1, 8)),
        "pix2pix": Pix2Pix(build_unet_generator(32, 3, 4, base_filters=4, max_filters=16,
                                                output_activation=None),
                           build_patch_discriminator(32, 3, 4, base_filters=4)),
        "pix2pix-translation": Pix2Pix(mode="translation", image_size=32, base_filters=4),
        "cyclegan": CycleGAN(image_size=16, base_filters=4, discriminator_filters=4,
                             discriminator_layers=2, num_residual_blocks=1, pool_size=2),
    }


def export_all(root: str) -> dict[str, Export]:
    """Export :func:`tiny_models` under ``root`` (``root/NAME/1``)."""
    exports = {}
    for name, model in tiny_models().items():
        path = export_saved_model(model, root, name=name)
        application = get_application(name.split("-")[0])
        exports[name] = Export(name, model, path, application.signatures(model))
    return exports


# ----------------------------------------------------------------- the server's side of it
class ServableError(Exception):
    """A TF Serving error status: ``code`` (a ``grpc.StatusCode``) and its message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _type_name(dtype_enum: int) -> str:
    """TensorFlow's ``DataTypeString``: ``float``, ``double``, ``uint8``, ``string``."""
    return types_pb2.DataType.Name(dtype_enum)[len("DT_"):].lower()


def _invalid(message: str) -> ServableError:
    return ServableError(grpc.StatusCode.INVALID_ARGUMENT, message)


class SessionModel:
    """An export loaded as TF Serving loads it: its own graph, a ``tf.compat.v1.Session`` and
    ``tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)``."""

    def __init__(self, path: str) -> None:
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], path)
        self.signature_defs: dict[str, meta_graph_pb2.SignatureDef] = {
            name: signature for name, signature in meta_graph.signature_def.items()
            if not name.startswith("__")}

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``sess.run`` of the signature's output tensors, fed by its input tensor names."""
        definition = self.signature_defs[signature]
        fetches = {name: info.name for name, info in definition.outputs.items()}
        feed = {definition.inputs[name].name: value for name, value in inputs.items()}
        return self.session.run(fetches, feed)

    def close(self) -> None:
        self.session.close()


_CODES = {tf.errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
          tf.errors.ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED}


class FakeModelServer:
    """TF Serving's Predict and GetModelMetadata over :class:`SessionModel`s.

    Args:
        models: name -> version -> the loaded export.
    """

    def __init__(self, models: Mapping[str, Mapping[int, SessionModel]]) -> None:
        self.models = {name: dict(versions) for name, versions in models.items()}
        self.requests: list[predict_pb2.PredictRequest] = []

    def servable(self, spec) -> tuple[int, SessionModel]:
        """The version and model a ``ModelSpec`` asks for, or TF Serving's NOT_FOUND."""
        versions = self.models.get(spec.name, {})
        if spec.HasField("version"):
            wanted = f"Specific({spec.name}, {spec.version.value})"
            if spec.version.value in versions:
                return spec.version.value, versions[spec.version.value]
        else:
            wanted = f"Latest({spec.name})"
            if versions:
                return max(versions), versions[max(versions)]
        raise ServableError(grpc.StatusCode.NOT_FOUND,
                            f"Servable not found for request: {wanted}")

    def signature(self, spec) -> tuple[int, SessionModel, meta_graph_pb2.SignatureDef]:
        version, model = self.servable(spec)
        name = spec.signature_name or "serving_default"
        if name not in model.signature_defs:
            raise _invalid(f'Serving signature name: "{name}" not found in signature def')
        return version, model, model.signature_defs[name]

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        self.requests.append(request)
        version, model, definition = self.signature(request.model_spec)
        sent, expected = set(request.inputs), set(definition.inputs)
        if sent != expected:
            missing, extra = sorted(expected - sent), sorted(sent - expected)
            raise _invalid(f"input size does not match signature: {len(sent)}!={len(expected)}"
                           f" len({sorted(sent)}) != len({sorted(expected)}). Sent extra: "
                           f"{extra}. Missing but required: {missing}.")
        inputs = {}
        for index, (name, proto) in enumerate(sorted(request.inputs.items())):
            want = definition.inputs[name].dtype
            if proto.dtype != want:
                raise _invalid(f"Expects arg[{index}] to be {_type_name(want)} but "
                               f"{_type_name(proto.dtype)} is provided")
            inputs[name] = tf.make_ndarray(proto)
        try:
            outputs = model.run(request.model_spec.signature_name or "serving_default", inputs)
        except tf.errors.OpError as error:
            raise ServableError(_CODES.get(type(error), grpc.StatusCode.INTERNAL),
                                error.message) from None
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = (request.model_spec.signature_name
                                              or "serving_default")
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def metadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest
                 ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if list(request.metadata_field) != ["signature_def"]:
            raise _invalid("Metadata field signature_def is the only one supported")
        version, model = self.servable(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, definition in model.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(definition)
        response.metadata["signature_def"].Pack(signature_map)
        return response


# ---------------------------------------------------------------------- TF Serving's JSON
def json_to_tensor_proto(value: object, dtype_enum: int) -> tensor_pb2.TensorProto:
    """A REST ``"inputs"`` value -> ``TensorProto`` of the signature's dtype, as TF Serving's
    ``FillTensorMapFromInputsMap`` does (shape from the first elements, every list of its
    level's size, values of the dtype's JSON type, ``{"b64": ...}`` strings decoded)."""
    dtype = tf.dtypes.as_dtype(dtype_enum)
    shape, probe = [], value
    while isinstance(probe, list):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    flat: list = []

    def scalar(item: object) -> object:
        if dtype == tf.string:
            if isinstance(item, dict):
                if set(item) != {"b64"} or not isinstance(item["b64"], str):
                    raise _invalid(f"JSON Value: {json.dumps(item)} not formatted correctly "
                                   "for base64 data")
                try:
                    return base64.b64decode(item["b64"], validate=True)
                except ValueError:
                    raise _invalid("Unable to base64 decode") from None
            if isinstance(item, str):
                return item.encode()
        elif dtype.is_floating:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                return item
        elif dtype.is_integer:
            if isinstance(item, int) and not isinstance(item, bool):
                return item
        raise _invalid(f"JSON Value: {json.dumps(item)} Type: {type(item).__name__} is not "
                       f"of expected type: {dtype.name}")

    def fill(item: object, level: int) -> None:
        if not isinstance(item, list):
            if level != len(shape):
                raise _invalid(f"JSON Value: {json.dumps(item)} found at incorrect level: "
                               f"{level + 1} in the JSON DOM. Expected at level: {len(shape)}")
            flat.append(scalar(item))
            return
        if level >= len(shape):
            raise _invalid(f"Encountered list at unexpected level: {level} expected < "
                           f"{len(shape)}")
        if len(item) != shape[level]:
            raise _invalid(f"Encountered list at unexpected size: {len(item)} at level: "
                           f"{level} expected size: {shape[level]}")
        for element in item:
            fill(element, level + 1)

    fill(value, 0)
    if dtype == tf.string:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        try:
            array = np.array(flat, dtype=dtype.as_numpy_dtype)
        except OverflowError as error:
            raise _invalid(str(error)) from None
    return tf.make_tensor_proto(array.reshape(shape), dtype=dtype)


def rest_predict_request(model: str, version: int | None, body: dict,
                         server: FakeModelServer) -> predict_pb2.PredictRequest:
    """The ``PredictRequest`` TF Serving builds from a REST body in the columnar format."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    if "signature_name" in body:
        if not isinstance(body["signature_name"], str):
            raise _invalid("'signature_name' key must be a string value.")
        request.model_spec.signature_name = body["signature_name"]
    _, _, definition = server.signature(request.model_spec)
    if "inputs" not in body:
        raise _invalid("Missing 'inputs' or 'instances' key")
    inputs = body["inputs"]
    named = isinstance(inputs, dict) and set(inputs) != {"b64"}
    if not named:
        if len(definition.inputs) > 1:
            raise _invalid("inputs is a plain value/list, but expecting an object as "
                           "multiple input tensors required as per tensorinfo_map")
        inputs = {next(iter(definition.inputs)): inputs}
    for name, info in definition.inputs.items():
        if name not in inputs:
            raise _invalid(f"Missing named input: {name} in 'inputs' object.")
        request.inputs[name].CopyFrom(json_to_tensor_proto(inputs[name], info.dtype))
    return request


def _json_values(array: np.ndarray, as_bytes: bool) -> object:
    if array.dtype == object or array.dtype.kind == "S":
        if as_bytes:
            encode = lambda v: {"b64": base64.b64encode(v).decode("ascii")}  # noqa: E731
        else:
            encode = lambda v: v.decode("utf-8", "replace")  # noqa: E731
        values = [encode(v) for v in array.ravel()]
    elif array.dtype.kind == "f":
        # Shortest text that reads back as the same float32 (TF Serving's WriteDecimal).
        values = [float(str(v)) for v in array.astype(np.float32).ravel()]
    else:
        values = array.ravel().tolist()
    nested = np.empty(len(values), dtype=object)
    nested[:] = values
    return nested.reshape(array.shape).tolist()


def tensors_to_json(outputs: Mapping[str, tensor_pb2.TensorProto]) -> dict:
    """TF Serving's columnar answer: ``{"outputs": {name: values}}``, or ``{"outputs":
    values}`` for a single output; DT_STRING outputs named ``*_bytes`` as ``{"b64": ...}``."""
    is_string = tf.string.as_datatype_enum
    values = {name: _json_values(tf.make_ndarray(proto),
                                 name.endswith("_bytes") and proto.dtype == is_string)
              for name, proto in outputs.items()}
    return {"outputs": values if len(values) > 1 else next(iter(values.values()))}


# ------------------------------------------------------------------------- the two servers
class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """TF Serving's gRPC ``PredictionService`` (Predict and GetModelMetadata)."""

    def __init__(self, server: FakeModelServer) -> None:
        self.server = server

    def Predict(self, request, context):  # noqa: N802 (the gRPC method's name)
        try:
            return self.server.predict(request)
        except ServableError as error:
            context.abort(error.code, error.message)

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            return self.server.metadata(request)
        except ServableError as error:
            context.abort(error.code, error.message)


@contextlib.contextmanager
def grpc_server(server: FakeModelServer) -> Iterator[str]:
    """A ``grpc.server`` on 127.0.0.1 (free port) serving ``server``; yields ``HOST:PORT``."""
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(server), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        grpc_server.stop(None)


_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
                grpc.StatusCode.DEADLINE_EXCEEDED: 504}
_PREDICT_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_METADATA_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata$")


def _rest_handler(server: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_request(self, method: str) -> None:
            try:
                self.answer(200, self.route(method))
            except ServableError as error:
                self.answer(_HTTP_STATUS.get(error.code, 500), {"error": error.message})

        def route(self, method: str) -> dict:
            from urllib.parse import unquote

            path = _PREDICT_PATH if method == "POST" else _METADATA_PATH
            match = path.match(self.path)
            if match is None:
                raise _invalid(f"Malformed request: {method} {self.path}")
            model = unquote(match.group(1))
            version = int(match.group(2)) if match.group(2) else None
            if method == "GET":
                request = get_model_metadata_pb2.GetModelMetadataRequest(
                    metadata_field=["signature_def"])
                request.model_spec.name = model
                if version is not None:
                    request.model_spec.version.value = version
                response = server.metadata(request)
                signature_map = get_model_metadata_pb2.SignatureDefMap()
                response.metadata["signature_def"].Unpack(signature_map)
                # TF Serving writes the model spec and the unpacked map, field names kept
                return {"model_spec": json_format.MessageToDict(
                            response.model_spec, preserving_proto_field_name=True),
                        "metadata": {"signature_def": json_format.MessageToDict(
                            signature_map, preserving_proto_field_name=True)}}
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except ValueError as error:
                raise _invalid(f"JSON Parse error: {error}") from None
            if not isinstance(body, dict):
                raise _invalid("JSON Value: Is not object")
            request = rest_predict_request(model, version, body, server)
            return tensors_to_json(server.predict(request).outputs)

        def do_GET(self) -> None:  # noqa: N802
            self.handle_request("GET")

        def do_POST(self) -> None:  # noqa: N802
            self.handle_request("POST")

    return Handler


@contextlib.contextmanager
def rest_server(server: FakeModelServer) -> Iterator[str]:
    """An ``http.server`` on 127.0.0.1 (free port) with TF Serving's REST API for
    ``server``; yields its URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(server))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signature_result(loaded: object, signature: str, inputs: Mapping[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """The signature called directly: ``tf.saved_model.load(path).signatures[NAME](...)``."""
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def assert_same_outputs(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
                        ) -> None:
    """Same names, dtypes, shapes and values (floats to 1e-5; PNG bytes exactly)."""
    assert set(actual) == set(expected)
    for name, value in expected.items():
        got = np.asarray(actual[name])
        assert got.dtype == value.dtype, (name, got.dtype, value.dtype)
        assert got.shape == value.shape, (name, got.shape, value.shape)
        if value.dtype.kind == "f":
            np.testing.assert_allclose(got, value, rtol=1e-5, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(got, value, err_msg=name)

