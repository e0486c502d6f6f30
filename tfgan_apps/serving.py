"""Using exported SavedModels: local loading with TensorFlow only.

Everything here works from ``tf.saved_model.load`` and the exported signatures, without this
package's model classes, exactly as a TF Serving client sees the model.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfgan_apps.export import existing_versions


def resolve_model_dir(model_dir: str) -> str:
    """Accept a version directory (``saved_models/dcgan/3``) or a model directory
    (``saved_models/dcgan``, meaning its highest version, as TF Serving does).

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: it holds no SavedModel.
    """
    if not os.path.exists(model_dir):
        raise FileNotFoundError(f"model directory {model_dir} does not exist; export one with "
                                "`tfgan-apps export RUN_DIR`")
    if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    versions = existing_versions(model_dir)
    if versions:
        candidate = os.path.join(model_dir, str(versions[-1]))
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ValueError(f"{model_dir} is not a SavedModel directory (no saved_model.pb in it or in "
                     "an integer version subdirectory); pass saved_models/NAME or "
                     "saved_models/NAME/VERSION")


def load_saved_model(model_dir: str) -> tf.types.experimental.GenericFunction:
    """``tf.saved_model.load`` with a clear error for unreadable directories.

    Returns:
        The loaded object; its ``signatures`` mapping holds the serving functions.
    """
    path = resolve_model_dir(model_dir)
    try:
        return tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise ValueError(f"cannot load the SavedModel in {path}: {first_line}") from None


def signature(model: object, name: str, model_dir: str) -> tf.types.experimental.ConcreteFunction:
    """Fetch one serving signature, or raise ``ValueError`` listing the ones there are."""
    signatures = getattr(model, "signatures", {})
    if name not in signatures:
        raise ValueError(f"{model_dir} has no {name!r} signature (it has {sorted(signatures)}); "
                         "is it the right kind of model?")
    return signatures[name]


def generate_images(model_dir: str, num: int, seed: int = 0) -> np.ndarray:
    """Sample ``num`` images from an exported DCGAN.

    Args:
        model_dir: ``saved_models/dcgan`` or ``saved_models/dcgan/VERSION``.
        num: number of images (positive).
        seed: noise seed; the same seed gives the same images.

    Returns:
        ``uint8[num, H, W, C]``.
    """
    if num < 1:
        raise ValueError(f"--num must be a positive integer, got {num}")
    model = load_saved_model(model_dir)
    serve = signature(model, "serving_default", model_dir)
    spec = serve.structured_input_signature[1].get("z")
    if spec is None:
        raise ValueError(f"{model_dir} does not take noise 'z': it is not a DCGAN export")
    z = tf.random.stateless_normal((num, int(spec.shape[-1])), seed=[seed, 0x5EED])
    return serve(z=z)["images"].numpy()
