"""Using exported SavedModels: local loading with TensorFlow only.

Everything here works from ``tf.saved_model.load`` and the exported signatures, without this
package's model classes, exactly as a TF Serving client sees the model.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfgan_apps.data.files import list_image_files
from tfgan_apps.errors import UserError, UserPathError
from tfgan_apps.export import existing_versions


def resolve_model_dir(model_dir: str) -> str:
    """Accept a version directory (``saved_models/dcgan/3``) or a model directory
    (``saved_models/dcgan``, meaning its highest version, as TF Serving does).

    Raises:
        UserPathError: the path does not exist.
        UserError: it holds no SavedModel.
    """
    if not os.path.exists(model_dir):
        raise UserPathError(f"model directory {model_dir} does not exist; export one with "
                                "`tfgan-apps export RUN_DIR`")
    if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    versions = existing_versions(model_dir)
    if versions:
        candidate = os.path.join(model_dir, str(versions[-1]))
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise UserError(f"{model_dir} is not a SavedModel directory (no saved_model.pb in it or in "
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
        raise UserError(f"cannot load the SavedModel in {path}: {first_line}") from None


def signature(model: object, name: str, model_dir: str) -> tf.types.experimental.ConcreteFunction:
    """Fetch one serving signature, or raise ``ValueError`` listing the ones there are."""
    signatures = getattr(model, "signatures", {})
    if name not in signatures:
        raise UserError(f"{model_dir} has no {name!r} signature (it has {sorted(signatures)}); "
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
        raise UserError(f"must be a positive integer, got {num}", option="num")
    model = load_saved_model(model_dir)
    serve = signature(model, "serving_default", model_dir)
    spec = serve.structured_input_signature[1].get("z")
    if spec is None:
        raise UserError(f"{model_dir} does not take noise 'z': it is not a DCGAN export")
    z = tf.random.stateless_normal((num, int(spec.shape[-1])), seed=[seed, 0x5EED])
    return serve(z=z)["images"].numpy()


def error_reason(error: tf.errors.OpError) -> str:
    """The meaningful line of a TensorFlow runtime error (not "Graph execution error")."""
    for line in error.message.splitlines():
        line = line.strip()
        if not line or line.startswith(("Graph execution error", "Detected at node", "<stack",
                                         "[[")):
            continue
        if line.startswith("assertion failed: ["):
            line = line[len("assertion failed: ["):].split("]")[0]
        return line
    return error.message.strip().splitlines()[0] if error.message.strip() else repr(error)


def map_output_paths(input_path: str, output_path: str) -> list[tuple[str, str]]:
    """``(input file, output PNG path)`` for an image file or every image under a folder.

    A folder INPUT needs a folder OUTPUT (its sub-folders are mirrored); a file INPUT writes to
    OUTPUT, or to ``OUTPUT/NAME.png`` when OUTPUT is an existing folder or ends in a separator.

    Raises:
        UserError: a folder with no images, or a folder INPUT with a file OUTPUT.
        UserPathError: INPUT does not exist.
    """
    if os.path.isdir(input_path):
        files = list_image_files(input_path)
        if not files:
            raise UserError(f"no images (.png, .jpg, ...) under {input_path}")
        if os.path.isfile(output_path):
            raise UserError(f"INPUT {input_path} is a folder, so OUTPUT must be a folder, but "
                             f"{output_path} is a file")
        return [(f, os.path.join(output_path,
                                 os.path.splitext(os.path.relpath(f, input_path))[0] + ".png"))
                for f in files]
    if not os.path.exists(input_path):
        raise UserPathError(f"INPUT {input_path} does not exist")
    if os.path.isdir(output_path) or output_path.endswith(os.sep):
        name = os.path.splitext(os.path.basename(input_path))[0] + ".png"
        return [(input_path, os.path.join(output_path, name))]
    return [(input_path, output_path)]
