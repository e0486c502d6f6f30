"""``tfgan-apps translate``: style image files with a trained CycleGAN, at their own size.

``MODEL_DIR`` is an exported SavedModel (``saved_models/cyclegan`` meaning its highest version,
or ``saved_models/cyclegan/VERSION``; only its ``a2b``/``b2a`` signatures are used, as a TF
Serving client would) or a training run directory holding ``model.keras``. Every image keeps
its size: the generators are fully convolutional. ``--tile N`` translates large photos in
overlapping ``N x N`` tiles blended across the seams (:func:`tfgan_apps.inference.translate`),
so memory stays bounded whatever the photo's size.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tfgan_apps.data.convert import from_signed_unit, to_signed_unit
from tfgan_apps.data.files import decode_image
from tfgan_apps.errors import UserError
from tfgan_apps.export.cyclegan import DIRECTIONS
from tfgan_apps.inference import MIN_INPUT_SIZE, translate
from tfgan_apps.runs import load_run_model
from tfgan_apps.serving import error_reason, load_saved_model, map_output_paths, signature
from tfgan_apps.visualize import save_png


class _SignatureGenerator:
    """A SavedModel's uint8 ``a2b``/``b2a`` signature seen as a float [-1, 1] generator."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def __call__(self, images: Any, training: bool = False) -> tf.Tensor:
        """float32 ``[batch, H, W, 3]`` in [-1, 1] -> the same shape in [-1, 1]."""
        return to_signed_unit(self.function(images=from_signed_unit(images))["images"])


def load_translator(model_dir: str, direction: str = "a2b") -> Callable[..., Any]:
    """The generator of `direction` from a run directory or an exported SavedModel.

    Returns:
        A callable ``float32[batch, H, W, 3]`` in [-1, 1] -> same shape in [-1, 1].

    Raises:
        UserError: unknown direction, or not a CycleGAN.
        FileNotFoundError: `model_dir` does not exist.
    """
    if direction not in DIRECTIONS:
        raise UserError(f"must be one of {DIRECTIONS}, got {direction!r}", option="direction")
    if os.path.isfile(os.path.join(model_dir, "model.keras")):
        model = load_run_model(model_dir)
        if not hasattr(model, "g_ab"):
            raise UserError(f"{model_dir} holds a {type(model).__name__}, not a CycleGAN")
        return model.g_ab if direction == "a2b" else model.g_ba
    saved = load_saved_model(model_dir)
    return _SignatureGenerator(signature(saved, direction, model_dir))


def translate_paths(
    model_dir: str,
    input_path: str,
    output_path: str,
    direction: str = "a2b",
    tile: int | None = None,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Translate an image file or every image under a folder; outputs are PNGs.

    Args:
        model_dir: exported CycleGAN (``saved_models/cyclegan[/VERSION]``) or run directory.
        input_path: an image file, or a folder (searched recursively).
        output_path: for a file, the output path (or an existing folder to put ``NAME.png``
            in); for a folder, the output folder (sub-folders are mirrored).
        direction: ``a2b`` or ``b2a``.
        tile: translate in ``tile x tile`` tiles (multiple of 4) with blended overlaps.
        report: where per-file lines go.

    Returns:
        The paths written.

    Raises:
        UserError: bad direction/tile, not a CycleGAN, a single input that is not a readable
            image, or a folder none of whose images could be translated (unreadable ones are
            otherwise skipped with a message on stderr).
        FileNotFoundError: the model or input does not exist.
    """
    if tile is not None and (tile < 8 or tile % 4):
        raise UserError(f"must be a multiple of 4, at least 8, got {tile}", option="tile")
    generator = load_translator(model_dir, direction)
    pairs = map_output_paths(input_path, output_path)
    written = []
    for source, target in pairs:
        try:
            with open(source, "rb") as f:
                contents = f.read()
            try:
                image = decode_image(tf.constant(contents), channels=3)
            except tf.errors.InvalidArgumentError:
                raise UserError("not a readable PNG, JPEG, BMP or GIF image") from None
            if min(image.shape[:2]) < MIN_INPUT_SIZE:
                raise UserError(f"the image is {image.shape[0]}x{image.shape[1]} pixels; at "
                                 f"least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} are needed")
            output = translate(generator, to_signed_unit(image[None]), tile=tile)[0]
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            reason = error_reason(error) if isinstance(error, tf.errors.OpError) else str(error)
            if len(pairs) == 1:
                raise UserError(f"cannot translate {source}: {reason}") from None
            print(f"skipped {source}: {reason}", file=sys.stderr)
            continue
        written.append(save_png(output, target))  # float [-1, 1], converted by save_png
        report(f"{source} -> {target}")
    if not written:
        raise UserError(f"none of the {len(pairs)} files under {input_path} could be "
                         "translated")
    return written
