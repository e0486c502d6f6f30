"""The applications and the operations that span them: ``train``, ``export_saved_model``.

:data:`APPLICATIONS` is the one registry: the CLI's ``train`` subcommands, the quickstart,
export (by the model's class) and ``train`` (by ``config.app``) all read it.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from tfgan_apps.apps.base import Application, SignatureSpec
from tfgan_apps.apps.cyclegan import CycleGANApplication
from tfgan_apps.apps.dcgan import DCGANApplication
from tfgan_apps.apps.pix2pix import Pix2PixApplication
from tfgan_apps.config import TrainConfig
from tfgan_apps.errors import UserError
from tfgan_apps.export import DEFAULT_EXPORT_DIR, check_finite_weights, write_saved_model
from tfgan_apps.export.image_io import check_max_pixels
from tfgan_apps.runs import load_run_model
from tfgan_apps.training import TrainResult, run_training

#: every application, by name, in the order the CLI and the quickstart list them
APPLICATIONS: dict[str, Application] = {
    app.name: app for app in (DCGANApplication(), Pix2PixApplication(), CycleGANApplication())
}


def get_application(name: str) -> Application:
    """The application called ``name``.

    Raises:
        UserError: no such application (the message lists them).
    """
    if name not in APPLICATIONS:
        raise UserError(f"unknown application {name!r}; choose one of {list(APPLICATIONS)}",
                        option="app")
    return APPLICATIONS[name]


def application_for_model(model: keras.Model) -> Application:
    """The application whose model class ``model`` is an instance of.

    Raises:
        UserError: ``model`` is not a model of any application.
    """
    for application in APPLICATIONS.values():
        if isinstance(model, application.model_class):
            return application
    supported = [a.model_class.__name__ for a in APPLICATIONS.values()]
    raise UserError(f"cannot export a {type(model).__name__}: supported models are "
                    f"{supported}")


def train(config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = (),
          verbose: int | str = "auto") -> TrainResult:
    """Train ``config.app`` (see :func:`tfgan_apps.training.run_training`).

    Args:
        config: the run; unset settings take the application's defaults (the same the CLI
            and the quickstart use); it is not changed.
        callbacks: extra Keras callbacks.
        verbose: ``fit``'s verbosity (progress bar by default).

    Example:
        >>> result = train(TrainConfig.create("dcgan", epochs=2, output="runs/demo"))
        >>> result.model.generate(16)  # float32 [16, 32, 32, 3] in [-1, 1]
    """
    return run_training(get_application(config.app), config, callbacks, verbose)


def export_saved_model(model: keras.Model, export_dir: str = DEFAULT_EXPORT_DIR,
                       name: str | None = None, version: int | None = None,
                       max_pixels: int | None = None) -> str:
    """Export ``model`` with its application's serving signatures to
    ``export_dir/name/version`` (atomically; see :func:`tfgan_apps.export.write_saved_model`).

    Args:
        model: a trained tfgan_apps model (DCGAN, Pix2Pix, CycleGAN).
        export_dir: root of the exports (TF Serving's ``model_base_path`` is
            ``export_dir/name``).
        name: model name (default: the application's, e.g. ``dcgan``).
        version: positive integer; default the next free one. An existing one is an error.
        max_pixels: the most pixels (height x width) an image file sent to the export's
            ``*_image_bytes`` signatures may have, checked from its header before decoding
            and baked into the signatures (default: the application's, sized for a 4 GiB
            budget per request; see README, "Export and serving"). DCGAN takes none.

    The version carries TF Serving's warm-up records (``assets.extra/
    tf_serving_warmup_requests``): each signature's example input from
    :meth:`Application.signatures`, named ``name``.

    Returns:
        The path of the written version directory.

    Raises:
        UserError: ``max_pixels`` is not a positive integer, or given for a DCGAN.
    """
    if max_pixels is not None:
        check_max_pixels(max_pixels)
    application = application_for_model(model)
    check_finite_weights(model)
    # No max_pixels: the one-argument call, the application's default limit.
    archive = (application.export_archive(model) if max_pixels is None
               else application.export_archive(model, max_pixels=max_pixels))
    # One small valid request per signature: TF Serving's warm-up records.
    warmup = {signature: spec.example(model)
              for signature, spec in application.signatures(model).items()}
    return write_saved_model(archive, export_dir, name or application.name, version, warmup)


def export_run(run_dir: str, export_dir: str = DEFAULT_EXPORT_DIR, name: str | None = None,
               version: int | None = None, max_pixels: int | None = None) -> str:
    """Load a run's model and :func:`export_saved_model` it; returns the version directory."""
    if max_pixels is not None:
        check_max_pixels(max_pixels)  # before the (slow) model load
    return export_saved_model(load_run_model(run_dir), export_dir, name, version, max_pixels)


__all__ = [
    "APPLICATIONS",
    "Application",
    "SignatureSpec",
    "application_for_model",
    "export_run",
    "export_saved_model",
    "get_application",
    "train",
]
