"""``tfgan-apps segment``: segment image files with an exported pix2pix SavedModel.

Uses only the export's ``segment_image_bytes`` signature (what a TF Serving client sees), so it
works on any exported segmentation model without this package's model classes. Each mask is
written as an *indexed* (palette) PNG at the input's original size: the pixel values are the
class ids (what training reads back) and image viewers show them in
:data:`tfgan_apps.visualize.SEGMENTATION_PALETTE`'s colours.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from PIL import Image

from tfgan_apps.atomic import write_with
from tfgan_apps.errors import UserError
from tfgan_apps.saved_models import error_reason, load_saved_model, map_output_paths, signature
from tfgan_apps.visualize import SEGMENTATION_PALETTE, overlay_mask, save_png


def save_indexed_png(mask: np.ndarray, path: str,
                     palette: np.ndarray = SEGMENTATION_PALETTE) -> str:
    """Write class ids ``int[H, W]`` (< 256) as a palette PNG, atomically; returns ``path``."""
    image = Image.fromarray(np.asarray(mask, np.uint8), mode="P")
    colours = np.zeros((256, 3), np.uint8)
    colours[np.arange(256)] = np.asarray(palette, np.uint8)[np.arange(256) % len(palette)]
    image.putpalette(colours.ravel().tolist())
    return write_with(path, lambda tmp: image.save(tmp, format="PNG"), "mask")


def segment_paths(
    model_dir: str,
    input_path: str,
    output_path: str,
    overlay: bool = False,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Segment an image file or every image under a folder.

    Args:
        model_dir: ``saved_models/pix2pix`` (its highest version) or a version directory.
        input_path: an image file, or a folder (searched recursively).
        output_path: for a file, the mask's path (or an existing folder to put ``NAME.png``
            in); for a folder, the output folder (the input's sub-folders are mirrored).
        overlay: also write ``NAME_overlay.png``, the image with the coloured mask blended in.
        report: where per-file lines go.

    Returns:
        The mask paths written.

    Raises:
        UserError: not a segmentation export; the single input is not an image; none of a
            folder's files could be segmented (unreadable ones are otherwise skipped, with a
            message on stderr).
        UserPathError: the model or input does not exist.
    """
    model = load_saved_model(model_dir)
    segment = signature(model, "segment_image_bytes", model_dir)
    pairs = map_output_paths(input_path, output_path)
    written, failed = [], []
    for source, target in pairs:
        with open(source, "rb") as f:
            contents = f.read()
        try:
            png = segment(image_bytes=tf.constant([contents]))["mask_png_bytes"][0]
        except tf.errors.InvalidArgumentError as error:
            if len(pairs) == 1:
                raise UserError(f"cannot segment {source}: {error_reason(error)}") from None
            failed.append(source)
            print(f"skipped {source}: {error_reason(error)}", file=sys.stderr)
            continue
        mask = tf.io.decode_png(png)[..., 0].numpy()
        written.append(save_indexed_png(mask, target))
        line = f"{source} -> {target}"
        if overlay:
            image = tf.io.decode_image(contents, channels=3, expand_animations=False).numpy()
            overlay_path = os.path.splitext(target)[0] + "_overlay.png"
            save_png(overlay_mask(image, mask), overlay_path)
            line += f" (+ {overlay_path})"
        report(line)
    if not written:
        raise UserError(f"none of the {len(pairs)} files under {input_path} could be segmented")
    return written
