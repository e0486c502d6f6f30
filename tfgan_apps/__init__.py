"""tfgan_apps: DCGAN generation, CycleGAN style transfer and pix2pix segmentation on Keras 3.

The public API is what this module exports (``__all__``), including the modules ``networks``,
``losses``, ``metrics``, ``callbacks``, ``visualize``, ``inference`` and ``serving`` (the TF
Serving client, ``models.config``); notebooks use nothing
else.

Importing the package registers the built-in offline TFDS dataset ``tfgan_shapes`` (so
``tfds.load("tfgan_shapes/generation")`` works offline) and the models' Keras serialization.
"""

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C++ logging included) inside the block.

    TF 2.21 prints oneDNN/CUDA notices at import, before absl logging starts, so
    TF_CPP_MIN_LOG_LEVEL cannot hide them; they would bury the CLI's one-line errors.
    ``TFGAN_APPS_DEBUG=1`` keeps everything.
    """
    if os.environ.get("TFGAN_APPS_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "tensorflow" not in sys.modules:
    with quiet_stderr():
        import tensorflow

        tensorflow.config.list_physical_devices()  # CUDA probing logs its failure on CPU hosts

from tfgan_apps import (  # noqa: E402
    callbacks,
    feature_metrics,
    inference,
    losses,
    metrics,
    networks,
    serving,
    visualize,
)
from tfgan_apps.apps import (  # noqa: E402
    APPLICATIONS,
    application_for_model,
    export_run,
    export_saved_model,
    get_application,
    train,
)
from tfgan_apps.config import (  # noqa: E402
    CycleGANOptions,
    DCGANOptions,
    Pix2PixOptions,
    TrainConfig,
)
from tfgan_apps.data import builtin  # noqa: E402,F401  (registers tfgan_shapes with TFDS)
from tfgan_apps.data.paired import (  # noqa: E402
    load_pix2pix_data,
    load_tfds_segmentation,
    segmentation_class_names,
)
from tfgan_apps.data.paired_folders import load_aligned_pairs, load_folder_pairs  # noqa: E402
from tfgan_apps.data.pipelines import (  # noqa: E402
    load_generation_dataset,
    load_image_folder,
    load_tfds_images,
)
from tfgan_apps.data.unpaired import (  # noqa: E402
    load_style_test_triplets,
    load_tfds_unpaired,
    load_unpaired_folders,
)
from tfgan_apps.errors import UserError, UserPathError  # noqa: E402
from tfgan_apps.models import (  # noqa: E402
    DCGAN,
    AdversarialModel,
    ConstantThenLinearDecay,
    CycleGAN,
    Pix2Pix,
    cyclegan_optimizers,
)
from tfgan_apps.runs import RunDirectory, load_run_model  # noqa: E402
from tfgan_apps.training import TrainResult  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "APPLICATIONS",
    "ConstantThenLinearDecay",
    "callbacks",
    "inference",
    "load_pix2pix_data",
    "metrics",
    "feature_metrics",
    "segmentation_class_names",
    "CycleGAN",
    "CycleGANOptions",
    "DCGANOptions",
    "Pix2PixOptions",
    "RunDirectory",
    "UserError",
    "UserPathError",
    "application_for_model",
    "get_application",
    "DCGAN",
    "AdversarialModel",
    "cyclegan_optimizers",
    "TrainConfig",
    "TrainResult",
    "export_run",
    "export_saved_model",
    "Pix2Pix",
    "load_aligned_pairs",
    "load_folder_pairs",
    "load_generation_dataset",
    "load_image_folder",
    "load_run_model",
    "load_tfds_images",
    "load_tfds_segmentation",
    "load_tfds_unpaired",
    "load_style_test_triplets",
    "load_unpaired_folders",
    "losses",
    "networks",
    "serving",
    "train",
    "visualize",
]
