"""The exports up to TF Serving's door, on the paths the server itself uses.

No TF Serving binary can be installed here (the end-to-end check is README's docker command), so
each application's tiny export (DCGAN, pix2pix segmentation and translation, CycleGAN) is
checked the way the server would treat it:

1. TensorFlow's session-based loader with the ``serve`` tag (what TF Serving's C++ loader
   does) runs every signature by its SignatureDef tensor names, with the documented dtypes and
   shapes, and the same values as the signature called directly;
2. ``saved_model_cli show --all`` lists every signature and ``saved_model_cli run`` executes
   each on ``.npy`` input files;
4. the warm-up records (``assets.extra/tf_serving_warmup_requests``) parse, one per signature,
   and run through the Predict path, and are in place before the version appears;
5. ``models.config`` (``tfgan-apps serving-config``) parses back into ``ModelServerConfig``.

(3, the client's requests, is ``tests/test_serving_client.py``.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from serving_fakes import (
    FakeModelServer,
    SessionModel,
    assert_same_outputs,
    export_all,
    signature_result,
)
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from tfgan_apps import UserError, export_saved_model
from tfgan_apps.cli import main
from tfgan_apps.export.warmup import WARMUP_FILE
from tfgan_apps.serving import docker_command, models_config, write_models_config

EXPORT_NAMES = ["dcgan", "pix2pix", "pix2pix-translation", "cyclegan"]


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


def _decoded_size(png: bytes) -> tuple[int, ...]:
    return tuple(tf.io.decode_png(png).shape)


def assert_documented(spec, outputs: dict[str, np.ndarray], example: dict[str, np.ndarray]
                      ) -> None:
    """Outputs of the spec's names, dtypes and shapes; images, masks and PNGs at the input's
    size; one output per input in the batch."""
    assert set(outputs) == set(spec.outputs)
    (input_name, value), = example.items()
    batch = len(value)
    for name, tensor_spec in spec.outputs.items():
        out = outputs[name]
        assert out.dtype == tensor_spec.dtype.as_numpy_dtype, (name, out.dtype)
        assert tensor_spec.shape.is_compatible_with(out.shape), (name, out.shape)
        assert out.shape[0] == batch, (name, out.shape)
        if input_name == "images" and out.ndim >= 3:  # same size as the input images
            assert out.shape[1:3] == value.shape[1:3], (name, out.shape, value.shape)
        if name.endswith("_bytes"):
            sizes = [_decoded_size(png) for png in out]
            if input_name == "image_bytes":  # each PNG at its own image's size
                assert [s[:2] for s in sizes] == [_decoded_size(f)[:2] for f in value]
                assert {s[2] for s in sizes} == ({1} if name == "mask_png_bytes" else {3})
            else:  # DCGAN: the generator's images
                assert len(set(sizes)) == 1


def assert_tensor_infos(infos, specs) -> None:
    """SignatureDef inputs/outputs: the documented names, dtypes and shapes."""
    assert set(infos) == set(specs)
    for name, info in infos.items():
        assert info.dtype == specs[name].dtype.as_datatype_enum, name
        assert tf.TensorShape(info.tensor_shape).as_list() == specs[name].shape.as_list(), name


# ------------------------------------------------------------------ 1. the session loader
@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_session_loader_runs_every_signature_by_its_tensor_names(name, exports, sessions,
                                                                  loaded):
    export, session = exports[name], sessions[name]
    assert set(session.signature_defs) == set(export.specs)
    for signature, spec in export.specs.items():
        definition = session.signature_defs[signature]
        assert definition.method_name == "tensorflow/serving/predict"
        assert_tensor_infos(definition.inputs, spec.inputs)
        assert_tensor_infos(definition.outputs, spec.outputs)
        example = export.example(signature)
        outputs = session.run(signature, example)
        assert_documented(spec, outputs, example)
        assert_same_outputs(outputs, signature_result(loaded[name], signature, example))


# -------------------------------------------------------------------- 2. saved_model_cli
def _saved_model_cli() -> list[str]:
    found = shutil.which("saved_model_cli")
    return [found] if found else [sys.executable, "-m",
                                  "tensorflow.python.tools.saved_model_cli"]


def _run_cli(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(_saved_model_cli() + args, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("name", [
    "dcgan", "pix2pix",
    "pix2pix-translation",
    pytest.param("cyclegan", marks=pytest.mark.slow),
])
def test_saved_model_cli_shows_and_runs_every_signature(name, exports, sessions, tmp_path):
    export = exports[name]
    shown = _run_cli(["show", "--all", "--dir", export.path]).stdout
    listed = set(re.findall(r"signature_def\['([^']+)'\]", shown)) - {"__saved_model_init_op"}
    assert listed == set(export.specs)
    for signature, spec in export.specs.items():
        block = shown.split(f"signature_def['{signature}']:", 1)[1].split("signature_def[", 1)[0]
        for input_name, tensor_spec in spec.inputs.items():
            assert f"inputs['{input_name}'] tensor_info" in block
            dtype = types_pb2.DataType.Name(tensor_spec.dtype.as_datatype_enum)
            assert f"dtype: {dtype}" in block
        for output_name in spec.outputs:
            assert f"outputs['{output_name}'] tensor_info" in block

        example = export.example(signature)
        files = []
        for input_name, value in example.items():
            path = tmp_path / f"{signature}-{input_name}.npy"
            np.save(path, value, allow_pickle=value.dtype == object)
            files.append(f"{input_name}={path}")
        outdir = tmp_path / signature
        _run_cli(["run", "--dir", export.path, "--tag_set", "serve", "--signature_def",
                  signature, "--inputs", ";".join(files), "--outdir", str(outdir),
                  "--overwrite"])
        outputs = {output_name: np.load(outdir / f"{output_name}.npy", allow_pickle=True)
                   for output_name in spec.outputs}
        assert_documented(spec, outputs, example)
        assert_same_outputs(outputs, sessions[name].run(signature, example))


# ------------------------------------------------------------------- 4. warm-up records
def read_warmup_requests(version_dir: str) -> list:
    path = os.path.join(version_dir, WARMUP_FILE)
    records = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
               for record in tf.data.TFRecordDataset(path)]
    assert {record.WhichOneof("log_type") for record in records} == {"predict_log"}
    return [record.predict_log.request for record in records]


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_warmup_records_parse_and_run_against_their_signatures(name, exports, sessions):
    export = exports[name]
    requests = read_warmup_requests(export.path)
    # one per signature
    assert sorted(r.model_spec.signature_name for r in requests) == sorted(export.specs)
    assert os.path.getsize(os.path.join(export.path, WARMUP_FILE)) < 64 * 1024  # small
    server = FakeModelServer({name: {1: sessions[name]}})
    for request in requests:
        assert request.model_spec.name == name  # the exported name
        assert not request.model_spec.HasField("version")
        signature = request.model_spec.signature_name
        inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        example = export.example(signature)
        assert set(inputs) == set(example)
        for key, value in example.items():
            assert inputs[key].dtype == value.dtype
            np.testing.assert_array_equal(inputs[key], value)
        # The path TF Serving's warm-up takes: a Predict of the request, checked and run.
        response = server.predict(request)
        outputs = {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
        assert_documented(export.specs[signature], outputs, example)


def test_warmup_file_is_in_place_before_the_version_appears(exports, tmp_path, monkeypatch):
    import tfgan_apps.export as export_module

    target = os.path.join(str(tmp_path), "dcgan", "1")
    seen = []
    rename = os.rename

    def spy(source, destination):
        if destination == target:
            seen.append(os.path.isfile(os.path.join(source, WARMUP_FILE)))
        return rename(source, destination)

    monkeypatch.setattr(export_module.os, "rename", spy)
    assert export_saved_model(exports["dcgan"].model, str(tmp_path)) == target
    assert seen == [True]
    assert len(read_warmup_requests(target)) == 2


def test_failed_warmup_write_leaves_no_version(exports, tmp_path, monkeypatch):
    import tfgan_apps.export as export_module

    def fail(*args):
        raise RuntimeError("warm-up write failed")

    monkeypatch.setattr(export_module, "write_warmup_requests", fail)
    with pytest.raises(RuntimeError, match="warm-up write failed"):
        export_saved_model(exports["dcgan"].model, str(tmp_path))
    assert os.listdir(os.path.join(str(tmp_path), "dcgan")) == []


# --------------------------------------------------------------------- 5. models.config
def parse_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    with open(path) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def test_models_config_lists_every_model_with_its_container_path(exports, tmp_path):
    root = os.path.dirname(os.path.dirname(exports["dcgan"].path))
    path = write_models_config(root, str(tmp_path / "models.config"))
    models = parse_config(path).model_config_list.config
    assert [m.name for m in models] == sorted(EXPORT_NAMES)
    for model in models:
        assert model.base_path == f"/models/{model.name}"
        assert model.model_platform == "tensorflow"
        assert not model.HasField("model_version_policy")  # TF Serving's default: latest


@pytest.fixture
def export_root(exports, tmp_path):
    """dcgan versions 1 and 2, pix2pix version 1, and things that are not models."""
    root = tmp_path / "exports"
    shutil.copytree(exports["dcgan"].path, root / "dcgan" / "1")
    shutil.copytree(exports["dcgan"].path, root / "dcgan" / "2")
    shutil.copytree(exports["pix2pix"].path, root / "pix2pix" / "1")
    (root / "dcgan" / ".tmp-host-1-x").mkdir()  # an export in progress
    (root / "notes").mkdir()  # no versions
    (root / "broken" / "1").mkdir(parents=True)  # no saved_model.pb
    (root / ".hidden" / "1").mkdir(parents=True)
    (root / "README.txt").write_text("not a model")
    return str(root)


def test_version_policies(export_root):
    config = models_config(export_root)
    assert [m.name for m in config.model_config_list.config] == ["dcgan", "pix2pix"]
    for policy in (2, [1]):
        path = write_models_config(export_root, version_policy=policy)
        assert path == os.path.join(export_root, "models.config")
        models = parse_config(path).model_config_list.config
        for model in models:
            if policy == 2:
                assert model.model_version_policy.latest.num_versions == 2
            else:
                assert list(model.model_version_policy.specific.versions) == [1]
    with pytest.raises(UserError, match=r"pix2pix has no version\(s\) \[2\] \(it has \[1\]\)"):
        models_config(export_root, version_policy=[1, 2])
    for bad in (0, [], [0], True, "1"):
        with pytest.raises(UserError):
            models_config(export_root, version_policy=bad)
    assert not [f for f in os.listdir(export_root) if f.startswith(".tmp")]


def test_docker_command_mounts_the_export_dir_and_names_the_config(tmp_path):
    root = os.path.abspath(str(tmp_path))
    assert docker_command(root) == (
        f"docker run -p 8500:8500 -p 8501:8501 -v {root}:/models tensorflow/serving "
        "--model_config_file=/models/models.config")
    outside = docker_command(root, str(tmp_path.parent / "elsewhere.config"))
    assert f"-v {tmp_path.parent / 'elsewhere.config'}:/config/elsewhere.config" in outside
    assert outside.endswith("--model_config_file=/config/elsewhere.config")


def test_serving_config_cli(export_root, tmp_path, capsys):
    assert main(["serving-config", "--export-dir", export_root, "--versions", "1"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {os.path.join(export_root, 'models.config')} (dcgan, pix2pix)" in out
    assert docker_command(export_root) in out
    models = parse_config(os.path.join(export_root, "models.config")).model_config_list.config
    assert [list(m.model_version_policy.specific.versions) for m in models] == [[1], [1]]

    assert main(["serving-config", "--export-dir", export_root, "--latest", "3"]) == 0
    models = parse_config(os.path.join(export_root, "models.config")).model_config_list.config
    assert [m.model_version_policy.latest.num_versions for m in models] == [3, 3]
    capsys.readouterr()

    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["--export-dir", str(empty)], ["--export-dir", str(tmp_path / "missing")],
                 ["--export-dir", export_root, "--versions", "1,x"],
                 ["--export-dir", export_root, "--latest", "1", "--versions", "1"]):
        assert main(["serving-config", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("tfgan-apps: error: "), err
    assert not os.path.exists(empty / "models.config")
