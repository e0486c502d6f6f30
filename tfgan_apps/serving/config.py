"""TF Serving's ``models.config`` for an export directory, and the docker command serving it.

:func:`write_models_config` lists every model of an export directory in TF Serving's
``ModelServerConfig`` text format (built with the ``tensorflow-serving-api`` protos, not a
string template); :func:`docker_command` is the ``docker run tensorflow/serving`` line that
serves it (gRPC on 8500, REST on 8501).
"""

from __future__ import annotations

import os
import posixpath
import shlex
from collections.abc import Sequence

from google.protobuf import text_format
from tensorflow_serving.config import file_system_storage_path_source_pb2, model_server_config_pb2

from tfgan_apps.atomic import write_with
from tfgan_apps.errors import UserError, UserPathError
from tfgan_apps.export import DEFAULT_EXPORT_DIR, MODEL_NAME, existing_versions

#: where ``docker run -v EXPORT_DIR:/models`` puts the export directory inside the container
CONTAINER_MODELS_DIR = "/models"
#: the config file ``tfgan-apps serving-config`` writes into the export directory
MODELS_CONFIG = "models.config"
#: TF Serving's ports: gRPC and REST
GRPC_PORT, REST_PORT = 8500, 8501

_VersionPolicy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig \
    .ServableVersionPolicy


def served_models(export_dir: str = DEFAULT_EXPORT_DIR) -> dict[str, list[int]]:
    """Model name -> its versions, for every ``export_dir/NAME`` holding at least one integer
    version directory with a ``saved_model.pb`` (hidden and temporary directories ignored).

    Raises:
        UserPathError: ``export_dir`` does not exist.
        UserError: it holds no model.
    """
    hint = f"export one with `tfgan-apps export RUN_DIR --export-dir {export_dir}`"
    if not os.path.isdir(export_dir):
        raise UserPathError(f"export directory {export_dir} does not exist; {hint}")
    models = {}
    for name in sorted(os.listdir(export_dir)):
        root = os.path.join(export_dir, name)
        if not MODEL_NAME.match(name) or not os.path.isdir(root):
            continue
        versions = [v for v in existing_versions(root)
                    if os.path.isfile(os.path.join(root, str(v), "saved_model.pb"))]
        if versions:
            models[name] = versions
    if not models:
        raise UserError(f"no models under {export_dir} (no NAME/VERSION/saved_model.pb); {hint}")
    return models


def _version_policy(policy: int | Sequence[int] | None) -> _VersionPolicy | None:
    """The ``ServableVersionPolicy`` of :func:`models_config`'s ``version_policy``."""
    if policy is None:
        return None
    if isinstance(policy, int) and not isinstance(policy, bool):
        if policy < 1:
            raise UserError(f"the latest N versions: N must be a positive integer, got "
                            f"{policy}")
        return _VersionPolicy(latest=_VersionPolicy.Latest(num_versions=policy))
    versions = list(policy) if isinstance(policy, (list, tuple)) else None
    if (not versions or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                            for v in versions)):
        raise UserError(f"versions must be positive integers (e.g. 1,3), got {policy!r}")
    return _VersionPolicy(specific=_VersionPolicy.Specific(versions=sorted(set(versions))))


def models_config(export_dir: str = DEFAULT_EXPORT_DIR,
                  version_policy: int | Sequence[int] | None = None,
                  base_dir: str = CONTAINER_MODELS_DIR,
                  ) -> model_server_config_pb2.ModelServerConfig:
    """TF Serving's ``ModelServerConfig`` serving every model of ``export_dir``.

    Args:
        export_dir: the export root (``NAME/VERSION/`` directories, see
            :func:`tfgan_apps.export_saved_model`).
        version_policy: None: TF Serving's default (the latest version of each model); an int
            N: the latest N versions; a list of ints: exactly those versions (each model must
            have every one, or TF Serving would wait for it forever).
        base_dir: where the server sees ``export_dir`` (``base_path`` of model NAME is
            ``base_dir/NAME``; the container's ``/models`` by default).

    Returns:
        One ``ModelConfig`` per model (name, ``base_path``, ``model_platform: "tensorflow"``,
        the version policy), in name order.

    Raises:
        UserError: no models, a bad policy, or a listed version a model lacks.
    """
    policy = _version_policy(version_policy)
    config = model_server_config_pb2.ModelServerConfig()
    for name, versions in served_models(export_dir).items():
        if policy is not None and policy.HasField("specific"):
            missing = sorted(set(policy.specific.versions) - set(versions))
            if missing:
                raise UserError(f"{os.path.join(export_dir, name)} has no version(s) "
                                f"{missing} (it has {versions}); the versions apply to every "
                                "model: choose versions all have, or use the latest N")
        model = config.model_config_list.config.add(
            name=name, base_path=posixpath.join(base_dir, name), model_platform="tensorflow")
        if policy is not None:
            model.model_version_policy.CopyFrom(policy)
    return config


def write_models_config(export_dir: str = DEFAULT_EXPORT_DIR, path: str | None = None,
                        version_policy: int | Sequence[int] | None = None) -> str:
    """Write :func:`models_config` in text format (atomically) to ``path``, by default
    ``export_dir/models.config``; returns ``path``.

    Example:
        >>> write_models_config("saved_models", version_policy=2)  # the latest 2 of each
        'saved_models/models.config'
    """
    path = path or os.path.join(export_dir, MODELS_CONFIG)
    text = ("# TF Serving ModelServerConfig, written by `tfgan-apps serving-config`; serve it "
            "with:\n# " + docker_command(export_dir, path) + "\n"
            + text_format.MessageToString(models_config(export_dir, version_policy)))

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return write_with(path, write, "TF Serving config")


def docker_command(export_dir: str = DEFAULT_EXPORT_DIR, config_path: str | None = None) -> str:
    """The ``docker run tensorflow/serving`` command that serves ``export_dir`` with its
    ``models.config`` (gRPC on port 8500, REST on 8501; warm-up records are replayed by
    default). A ``config_path`` outside ``export_dir`` is mounted on its own."""
    export_dir = os.path.abspath(export_dir)
    config_path = os.path.abspath(config_path or os.path.join(export_dir, MODELS_CONFIG))
    mounts = ["-v", f"{export_dir}:{CONTAINER_MODELS_DIR}"]
    inside = os.path.relpath(config_path, export_dir)
    if inside.startswith(os.pardir):
        inside = "/config/" + os.path.basename(config_path)
        mounts += ["-v", f"{config_path}:{inside}"]
    else:
        inside = posixpath.join(CONTAINER_MODELS_DIR, *inside.split(os.sep))
    words = ["docker", "run", "-p", f"{GRPC_PORT}:{GRPC_PORT}", "-p", f"{REST_PORT}:{REST_PORT}",
             *mounts, "tensorflow/serving", f"--model_config_file={inside}"]
    return " ".join(shlex.quote(word) for word in words)


__all__ = ["CONTAINER_MODELS_DIR", "GRPC_PORT", "MODELS_CONFIG", "REST_PORT", "docker_command",
           "models_config", "served_models", "write_models_config"]
