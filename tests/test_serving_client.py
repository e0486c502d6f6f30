"""The TF Serving client (``tfgan_apps.serving``) up to the server's door (check 3).

- The REST JSON the client builds, decoded as TF Serving decodes it (JSON typed by the
  signature, ``{"b64": ...}`` -> bytes), and the gRPC ``PredictRequest``'s TensorProtos through
  ``tf.make_ndarray``, fed to the export loaded as TF Serving loads it, give the result of the
  signature called directly, for every signature of every application.
- Real round trips: ``predict_grpc`` against a ``grpc.server`` and ``predict_rest`` against an
  ``http.server`` on 127.0.0.1 running TF Serving's Predict / metadata semantics
  (``tests/serving_fakes.py``), with TF Serving's errors (NOT_FOUND, INVALID_ARGUMENT, REST's
  ``{"error": ...}``) turned into one-line ``ServingError``s; connection refused too.
- ``tfgan-apps predict`` end to end against those servers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from serving_fakes import (
    FakeModelServer,
    SessionModel,
    assert_same_outputs,
    closed_port,
    export_all,
    grpc_server,
    rest_predict_request,
    rest_server,
    signature_result,
)
from tensorflow_serving.apis import predict_pb2

from tfgan_apps.cli import main
from tfgan_apps.export.warmup import predict_request
from tfgan_apps.saved_models import generate_images
from tfgan_apps.serving import (
    ServingError,
    noise_from_seed,
    predict_grpc,
    predict_rest,
    rest_request,
    signature_defs_grpc,
    signature_defs_rest,
)

SIGNATURES = {
    "dcgan": ["serving_default", "generate_png"],
    "pix2pix": ["serving_default", "segment_image_bytes"],
    "pix2pix-translation": ["serving_default", "translate_image_bytes"],
    "cyclegan": ["serving_default", "a2b", "b2a", "a2b_image_bytes", "b2a_image_bytes"],
}
CASES = [(name, signature) for name, signatures in SIGNATURES.items()
         for signature in signatures]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return export_all(str(tmp_path_factory.mktemp("exports")))


@pytest.fixture(scope="module")
def sessions(exports):
    models = {name: SessionModel(export.path) for name, export in exports.items()}
    yield models
    for model in models.values():
        model.close()


@pytest.fixture(scope="module")
def loaded(exports):
    return {name: tf.saved_model.load(export.path) for name, export in exports.items()}


@pytest.fixture(scope="module")
def fake(sessions):
    return FakeModelServer({name: {1: model} for name, model in sessions.items()})


@pytest.fixture(scope="module")
def grpc_target(fake):
    with grpc_server(fake) as target:
        yield target


@pytest.fixture(scope="module")
def rest_url(fake):
    with rest_server(fake) as url:
        yield url


def test_the_cases_cover_every_signature(exports):
    assert {name: sorted(e.specs) for name, e in exports.items()} == {
        name: sorted(signatures) for name, signatures in SIGNATURES.items()}


# ------------------------------------------------ requests decoded as TF Serving does
@pytest.mark.parametrize("name, signature", CASES)
def test_rest_json_decoded_as_tf_serving_gives_the_signature_result(
        name, signature, exports, sessions, loaded, fake):
    example = exports[name].example(signature)
    body = json.loads(json.dumps(rest_request(signature, example)))  # as it goes on the wire
    assert body["signature_name"] == signature
    for key, value in body["inputs"].items():
        if key.endswith("_bytes"):
            assert all(set(item) == {"b64"} for item in value)
    request = rest_predict_request(name, None, body, fake)
    inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
    assert set(inputs) == set(example)
    for key, value in example.items():
        assert inputs[key].dtype == value.dtype
        np.testing.assert_array_equal(inputs[key], value)
    assert_same_outputs(sessions[name].run(signature, inputs),
                        signature_result(loaded[name], signature, example))


@pytest.mark.parametrize("name, signature", CASES)
def test_grpc_tensor_protos_give_the_signature_result(name, signature, exports, sessions,
                                                      loaded):
    example = exports[name].example(signature)
    sent = predict_request(name, signature, example, version=1)
    request = predict_pb2.PredictRequest.FromString(sent.SerializeToString())
    assert (request.model_spec.name, request.model_spec.signature_name,
            request.model_spec.version.value) == (name, signature, 1)
    inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
    for key, value in example.items():
        assert inputs[key].dtype == value.dtype
        np.testing.assert_array_equal(inputs[key], value)
    assert_same_outputs(sessions[name].run(signature, inputs),
                        signature_result(loaded[name], signature, example))


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name, signature", CASES)
def test_predict_grpc_round_trip(name, signature, exports, loaded, grpc_target):
    example = exports[name].example(signature)
    outputs = predict_grpc(grpc_target, name, signature, example, timeout=30)
    assert_same_outputs(outputs, signature_result(loaded[name], signature, example))


@pytest.mark.parametrize("name, signature", CASES)
def test_predict_rest_round_trip(name, signature, exports, loaded, rest_url):
    example = exports[name].example(signature)
    outputs = predict_rest(rest_url, name, signature, example, timeout=30)
    # JSON carries no dtypes: the client restores the signature's (uint8, int32, float32,
    # bytes from base64)
    assert_same_outputs(outputs, signature_result(loaded[name], signature, example))


def test_versions_and_metadata(exports, loaded, rest_url, grpc_target):
    example = exports["dcgan"].example("generate_png")
    expected = signature_result(loaded["dcgan"], "generate_png", example)
    assert_same_outputs(predict_rest(rest_url.removeprefix("http://") + "/", "dcgan",
                                     "generate_png", example, version=1), expected)
    assert_same_outputs(predict_grpc(grpc_target, "dcgan", "generate_png", example,
                                     version=1), expected)
    for signatures in (signature_defs_rest(rest_url, "cyclegan"),
                       signature_defs_grpc(grpc_target, "cyclegan", version=1)):
        assert sorted(signatures) == sorted(SIGNATURES["cyclegan"])
        assert signatures["a2b"].inputs["images"].dtype == tf.uint8.as_datatype_enum


# -------------------------------------------------------------------------------- errors
def _predict(api: str, server: str, *args, **kwargs):
    return (predict_rest if api == "rest" else predict_grpc)(server, *args, **kwargs)


@pytest.fixture
def servers(rest_url, grpc_target):
    return {"rest": rest_url, "grpc": grpc_target}


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message.strip() == message
    return message


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_unknown_model_and_version(api, servers, exports):
    z = exports["dcgan"].example("serving_default")
    with pytest.raises(ServingError, match=r"has no model 'nope': Servable not found for "
                       r"request: Latest\(nope\)") as error:
        _predict(api, servers[api], "nope", "serving_default", z)
    _one_line(error)
    with pytest.raises(ServingError, match=r"has no model 'dcgan' version 7: .*"
                       r"Specific\(dcgan, 7\)") as error:
        _predict(api, servers[api], "dcgan", "serving_default", z, version=7)
    _one_line(error)


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_unknown_signature(api, servers, exports):
    z = exports["dcgan"].example("serving_default")
    with pytest.raises(ServingError, match="model 'dcgan' on .* has no signature 'nope'") as error:
        _predict(api, servers[api], "dcgan", "nope", z)
    message = _one_line(error)
    if api == "rest":  # from the model's metadata: the client lists the signatures
        assert "it has ['generate_png', 'serving_default']" in message
    else:  # the server's own INVALID_ARGUMENT
        assert 'Serving signature name: "nope" not found in signature def' in message


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_invalid_argument_carries_the_servers_reason(api, servers, exports):
    with pytest.raises(ServingError, match=r"refused the request to model 'pix2pix', "
                       r"signature 'segment_image_bytes' \(InvalidArgument\): .*"
                       "Unknown image file format") as error:
        _predict(api, servers[api], "pix2pix", "segment_image_bytes",
                 {"image_bytes": [b"not an image"]})
    _one_line(error)
    # An input the signature does not have.
    with pytest.raises(ServingError, match="InvalidArgument.*(Missing named input: z|"
                       "input size does not match signature)") as error:
        _predict(api, servers[api], "dcgan", "serving_default",
                 {"noise": np.zeros((1, 8), np.float32)})
    _one_line(error)
    # A batch of images with a side under 4 pixels: the CycleGAN export's own check.
    with pytest.raises(ServingError, match="InvalidArgument.*at least 4x4 pixels") as error:
        _predict(api, servers[api], "cyclegan", "a2b",
                 {"images": np.zeros((1, 2, 9, 3), np.uint8)})
    _one_line(error)


def test_grpc_sends_the_arrays_dtype_and_the_server_refuses_another(grpc_target):
    with pytest.raises(ServingError, match=r"Expects arg\[0\] to be float but double is "
                       "provided") as error:
        predict_grpc(grpc_target, "dcgan", "serving_default", {"z": np.zeros((1, 8))})
    _one_line(error)


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_connection_refused_is_one_line(api):
    server = f"127.0.0.1:{closed_port()}"
    if api == "rest":
        server = f"http://{server}"
    with pytest.raises(ServingError, match=f"cannot reach TF Serving at {server} "
                       r"\((REST|gRPC)\): connection refused; is the server running") as error:
        _predict(api, server, "dcgan", "serving_default", {"z": np.zeros((1, 8), np.float32)},
                 timeout=20)
    _one_line(error)


def test_a_server_that_is_not_tf_serving(tmp_path):
    import http.server
    import threading

    class NotServing(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotServing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(ServingError, match="other than TF Serving's JSON") as error:
            predict_rest(f"127.0.0.1:{httpd.server_address[1]}", "dcgan", "serving_default",
                         {"z": np.zeros((1, 8), np.float32)})
        _one_line(error)
    finally:
        httpd.shutdown()
        httpd.server_close()


# ----------------------------------------------------------------------- tfgan-apps predict
@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "photo.png"
    pixels = np.random.default_rng(3).integers(0, 256, (21, 30, 3), np.uint8)
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path


def _expected_png(loaded, signature: str, **inputs) -> bytes:
    (value,) = signature_result(loaded, signature, inputs).values()
    return value[0]


def test_predict_cli_segments_and_translates_image_files(image_file, loaded, rest_url,
                                                        grpc_target, tmp_path, capsys):
    file_bytes = np.array([image_file.read_bytes()], dtype=object)
    cases = [
        (["--server", rest_url, "pix2pix"], "pix2pix", "segment_image_bytes"),
        (["--server", rest_url, "pix2pix-translation"], "pix2pix-translation",
         "translate_image_bytes"),
        (["--grpc", "--server", grpc_target, "cyclegan"], "cyclegan", "a2b_image_bytes"),
        (["--grpc", "--server", grpc_target, "--signature", "b2a_image_bytes", "cyclegan"],
         "cyclegan", "b2a_image_bytes"),
    ]
    for index, (args, name, signature) in enumerate(cases):
        output = tmp_path / f"out{index}.png"
        assert main(["predict", *args, str(image_file), str(output)]) == 0
        assert f"(model {name}, signature {signature})" in capsys.readouterr().out
        png = output.read_bytes()
        assert png == _expected_png(loaded[name], signature, image_bytes=file_bytes)
        assert tuple(tf.io.decode_png(png).shape)[:2] == (21, 30)


def test_predict_cli_generates_from_a_seed_or_a_noise_file(exports, loaded, rest_url,
                                                          grpc_target, tmp_path, capsys):
    seed_png = tmp_path / "seed.png"
    assert main(["predict", "--server", rest_url, "dcgan", "3", str(seed_png)]) == 0
    assert "signature generate_png" in capsys.readouterr().out
    noise = noise_from_seed(3, 8)
    assert seed_png.read_bytes() == _expected_png(loaded["dcgan"], "generate_png", z=noise)
    # the noise of `tfgan-apps generate --num 1 --seed 3`
    generated = generate_images(exports["dcgan"].path, 1, seed=3)[0]
    np.testing.assert_array_equal(tf.io.decode_png(seed_png.read_bytes()).numpy(), generated)

    noise_file = tmp_path / "z.npy"
    other = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    np.save(noise_file, other)
    npy_png = tmp_path / "npy.png"
    assert main(["predict", "--grpc", "--server", grpc_target, "dcgan", str(noise_file),
                 str(npy_png)]) == 0
    assert npy_png.read_bytes() == _expected_png(loaded["dcgan"], "generate_png",
                                                 z=other[None])


def test_predict_cli_errors_are_one_line(image_file, rest_url, tmp_path, capsys):
    output = tmp_path / "out.png"
    wrong_noise = tmp_path / "wrong.npy"
    np.save(wrong_noise, np.zeros((2, 8), np.float32))
    cases = [
        (["--server", f"127.0.0.1:{closed_port()}", "pix2pix", str(image_file)],
         "cannot reach TF Serving at http://127.0.0.1:"),
        (["--grpc", "--server", f"127.0.0.1:{closed_port()}", "pix2pix", str(image_file)],
         "connection refused"),
        (["--server", rest_url, "nope", str(image_file)], "has no model 'nope'"),
        (["--server", rest_url, "dcgan", str(image_file)],
         "has no signature that takes an image file"),
        (["--server", rest_url, "pix2pix", "7"], "has no signature that takes noise"),
        (["--server", rest_url, "dcgan", str(wrong_noise)],
         "takes one noise vector of 8 floats"),
        (["--server", rest_url, "--signature", "serving_default", "pix2pix", str(image_file)],
         "does not take an image file and return a PNG"),
        (["--server", rest_url, "pix2pix", str(tmp_path / "missing.png")], "does not exist"),
    ]
    for args, expected in cases:
        assert main(["predict", *args, str(output)]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("tfgan-apps: error: "), err
        assert expected in err[0], (expected, err[0])
    assert not output.exists()
