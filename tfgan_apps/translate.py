"""``tfgan-apps translate``: style image files with a trained CycleGAN, at their own size.

``MODEL_DIR`` is an exported SavedModel (``saved_models/cyclegan`` meaning its highest version,
or ``saved_models/cyclegan/VERSION``; only its ``a2b``/``b2a`` signatures are used, as a TF
Serving client would) or a training run directory holding ``model.keras``. Every image keeps
its size: the generators are fully convolutional.

Memory. Each file's width and height are read from its header first (:func:`image_file_size`,
nothing decoded). A file of more than ``max_pixels`` (default :data:`MAX_PIXELS`, 2**28 =
268 megapixels, e.g. 16384 x 16384) is refused there: a 48 KB PNG of one colour can declare
20000 x 20000. Translating a whole image takes far more memory than the image: measured in a
subprocess (decode, float32, the traced generator, ``save_png``; 2 CPU cores), the peak RSS
grows by about 100 bytes per pixel with a tiny generator (4 filters, 1 residual block), 220
with 16 filters and 6 blocks, and 650 with the paper's (64 filters, 9 blocks: 1.0 GB at
1448 x 1084) on top of TensorFlow's own 0.6-0.7 GB. :func:`untiled_memory_estimate` bounds it
by :data:`UNTILED_BYTES_PER_PIXEL` + :data:`UNTILED_BYTES_PER_PIXEL_PER_FILTER` x the
generator's first-layer filters per pixel; an image estimated above
:data:`UNTILED_MEMORY_BUDGET` (2 GiB: with the paper's generator from about 2.6 megapixels,
a tiny one from 19) is translated in tiles (:func:`automatic_tile`: 512) without being asked,
with one line saying so.

Tiled translation (``--tile N``, or chosen as above) streams: the image is read, translated
(:func:`tfgan_apps.inference.translate_tiled_rows`, tiles blended across the seams exactly as
:func:`tfgan_apps.inference.translate_tiled` blends them in memory) and written one band of
``N`` rows at a time, so memory is bounded by ``N`` and the image width (the band, its blend
sums and the generator on one ``N x N`` tile: about ``N x width x 40`` bytes plus the tile),
not by the height. A PNG is read row by row (its data inflated a few MB at a time, so a small
file of one colour cannot expand to the whole image at once) and the output PNG written row
by row (``pypng``). An interlaced PNG (decoded whole by pypng), and a JPEG, BMP or GIF, is
decoded whole as uint8 (3 bytes per pixel: 144 MB at 8000 x 6000, at most 805 MB at the
default limit; a progressive JPEG's decoder holds about as much again), but converted to
float32 and translated band by band. Measured (``tests/test_translate_streaming.py``): an
8000 x 6000 PNG through a tiny CycleGAN (2 filters), tiled at 512 px without being asked,
peaks at 1.04 GB of RSS, 0.64 GB of which is TensorFlow and the model (translated whole it
was estimated at 3.9 GiB more); refusing a 20000 x 20000 PNG by its header, 0.64 GB.
"""

from __future__ import annotations

import math
import os
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import numpy as np
import png
import tensorflow as tf

from tfgan_apps.atomic import atomic_write
from tfgan_apps.data.convert import from_signed_unit, from_signed_unit_numpy, to_signed_unit
from tfgan_apps.data.files import decode_image
from tfgan_apps.errors import UserError
from tfgan_apps.export.cyclegan import DIRECTIONS
from tfgan_apps.inference import (
    MIN_GENERATOR_SIZE,
    MIN_INPUT_SIZE,
    SIZE_MULTIPLE,
    tile_for_generator,
    translate,
    translate_tiled_rows,
)
from tfgan_apps.runs import load_run_model
from tfgan_apps.saved_models import error_reason, load_saved_model, map_output_paths, signature
from tfgan_apps.visualize import save_png

#: default ``max_pixels``: files declaring more pixels (width x height) are refused unread
MAX_PIXELS = 2**28
#: bytes of peak RSS per pixel of an untiled translation, whatever the generator (uint8 and
#: float32 input, output, PNG encoding) ...
UNTILED_BYTES_PER_PIXEL = 64
#: ... and per generator filter (ngf): together an upper bound of what was measured (97 B at
#: 4 filters, 222 at 16, 655 at 64)
UNTILED_BYTES_PER_PIXEL_PER_FILTER = 12
#: filters assumed for a generator whose width cannot be seen (an exported signature): the
#: default CycleGAN's
DEFAULT_GENERATOR_FILTERS = 64
#: images whose untiled translation is estimated above this are translated in tiles
UNTILED_MEMORY_BUDGET = 2 * 2**30
#: largest tile chosen automatically (the generator on one such tile stays within the budget)
DEFAULT_TILE = 512
#: smallest tile chosen automatically, however wide the generator
MIN_AUTOMATIC_TILE = 64
#: tiles per generator call when streaming: one, as memory, not speed, is what tiling is for
STREAM_TILES_PER_BATCH = 1

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_UNREADABLE = "not a readable PNG, JPEG, BMP or GIF image"


class _SignatureGenerator:
    """A SavedModel's uint8 ``a2b``/``b2a`` signature seen as a float [-1, 1] generator."""

    def __init__(self, function: Any, saved_model: Any) -> None:
        self.function = function
        # The loaded object owns the variables; a signature traced into another tf.function
        # only references them weakly, so it must outlive every call.
        self.saved_model = saved_model

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
    return _SignatureGenerator(signature(saved, direction, model_dir), saved)


def _read_exactly(f: BinaryIO, count: int) -> bytes:
    data = f.read(count)
    if len(data) < count:
        raise UserError(f"{_UNREADABLE} (its header is truncated)")
    return data


def _jpeg_size(f: BinaryIO) -> tuple[int, int]:
    # The markers up to the first start-of-frame, as libjpeg's jpeg_read_header walks them;
    # segments are skipped by their length, so only the header is read.
    f.seek(2)
    while True:
        if _read_exactly(f, 1) != b"\xff":
            continue  # junk between segments, which libjpeg also skips
        marker = _read_exactly(f, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read_exactly(f, 1)[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # segments without a length
            continue
        if marker in (0xD9, 0xDA):
            raise UserError(f"{_UNREADABLE} (no frame header before its image data)")
        (length,) = struct.unpack(">H", _read_exactly(f, 2))
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            _, height, width = struct.unpack(">BHH", _read_exactly(f, 5))
            return width, height
        if length < 2:
            raise UserError(f"{_UNREADABLE} (a corrupt JPEG segment length)")
        f.seek(length - 2, os.SEEK_CUR)


def image_file_size(path: str) -> tuple[int, int]:
    """``(width, height)`` of a PNG, JPEG, GIF or BMP file, read from its header only.

    The format is told by its magic bytes, as ``tf.io.decode_image`` does; a GIF gives its
    logical screen (the size of its decoded frames), a BMP its height as a positive number.

    Raises:
        UserError: another format, or a truncated or corrupt header.
    """
    with open(path, "rb") as f:
        head = f.read(26)
        if head.startswith(_PNG_MAGIC):
            if len(head) < 24 or head[12:16] != b"IHDR":
                raise UserError(f"{_UNREADABLE} (a corrupt PNG header)")
            return struct.unpack(">II", head[16:24])
        if head.startswith(_JPEG_MAGIC):
            return _jpeg_size(f)
        if head.startswith(b"GIF8") and len(head) >= 10:
            return struct.unpack("<HH", head[6:10])
        if head.startswith(b"BM") and len(head) >= 26:
            if struct.unpack("<I", head[14:18])[0] == 12:  # the old OS/2 BITMAPCOREHEADER
                return struct.unpack("<HH", head[18:22])
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)
    raise UserError(_UNREADABLE)


def _generator_filters(generator: Any) -> int:
    # A ResNet/U-Net generator's first convolution has its base width (ngf); an exported
    # signature shows none, so it is taken to be the default CycleGAN's.
    for layer in getattr(generator, "layers", ()):
        filters = getattr(layer, "filters", None)
        if isinstance(filters, int):
            return filters
    return DEFAULT_GENERATOR_FILTERS


def _bytes_per_pixel(generator: Any) -> int:
    return UNTILED_BYTES_PER_PIXEL + UNTILED_BYTES_PER_PIXEL_PER_FILTER * _generator_filters(
        generator)


def untiled_memory_estimate(generator: Any, height: int, width: int) -> int:
    """Estimated peak memory growth in bytes of translating a ``height x width`` image whole:
    ``UNTILED_BYTES_PER_PIXEL + UNTILED_BYTES_PER_PIXEL_PER_FILTER x filters`` per pixel, the
    generator's first-layer filters (the default CycleGAN's 64 for an exported signature)."""
    return height * width * _bytes_per_pixel(generator)


def automatic_tile(generator: Any) -> int:
    """The tile side used when an image is too large to translate whole: the largest multiple
    of 4 up to :data:`DEFAULT_TILE` whose untiled translation fits
    :data:`UNTILED_MEMORY_BUDGET` (at least :data:`MIN_AUTOMATIC_TILE`)."""
    per_pixel = _bytes_per_pixel(generator)
    side = int(math.sqrt(UNTILED_MEMORY_BUDGET / per_pixel)) // SIZE_MULTIPLE * SIZE_MULTIPLE
    return max(MIN_AUTOMATIC_TILE, min(DEFAULT_TILE, side))


#: most bytes of decompressed PNG data held at a time (a small IDAT chunk of one colour can
#: inflate to the whole image)
_PNG_INFLATE_LIMIT = 4 * 2**20


def _png_scanlines(reader: png.Reader) -> Iterator[np.ndarray]:
    """The unfiltered scanlines (packed bytes, uint8) of a straightlaced PNG whose preamble
    `reader` has read: the IDAT data inflated at most :data:`_PNG_INFLATE_LIMIT` at a time."""
    stride = math.ceil(reader.width * reader.bitdepth * reader.planes / 8) + 1
    pixel_bytes = max(1, reader.bitdepth * reader.planes // 8)  # the filters' "left" distance
    inflate = zlib.decompressobj()
    limit = max(_PNG_INFLATE_LIMIT, stride)
    pending = bytearray()
    previous = np.zeros(stride - 1, np.uint8)
    rows = 0
    while rows < reader.height:
        kind, data = reader.chunk()
        if kind == b"IEND":
            break
        if kind != b"IDAT":
            continue
        while rows < reader.height:
            out = inflate.decompress(data, limit)
            data = inflate.unconsumed_tail
            pending += out
            while len(pending) >= stride and rows < reader.height:
                kind_of_filter, line = pending[0], np.frombuffer(pending, np.uint8, stride - 1, 1)
                if kind_of_filter == 0:
                    line = line.copy()
                elif kind_of_filter == 1:  # Sub: a running sum per byte of a pixel, mod 256
                    line = np.cumsum(line.reshape(-1, pixel_bytes), axis=0,
                                     dtype=np.uint8).reshape(-1)
                elif kind_of_filter == 2:  # Up
                    line = line + previous
                else:  # Average and Paeth depend on the left neighbour's result: pypng's loop
                    line = np.frombuffer(reader.undo_filter(
                        kind_of_filter, bytearray(line), bytearray(previous) if rows else None),
                        np.uint8)
                del pending[:stride]
                previous = line
                rows += 1
                yield line
            if not data and len(out) < limit:
                break


def _rgb_row(samples: np.ndarray, reader: png.Reader, palette: np.ndarray | None
             ) -> np.ndarray:
    """One row of samples (values, uint8 or uint16) -> uint8 ``[width, 3]``, converted as
    ``tf.io.decode_png(channels=3)`` converts them: grey replicated, alpha dropped, 16-bit
    samples shifted to their high byte, 1/2/4-bit grey scaled to 0..255, palettes looked up."""
    values = samples.reshape(reader.width, reader.planes)
    if reader.bitdepth == 16:
        values = (values >> 8).astype(np.uint8)
    if palette is not None:
        return palette[np.minimum(values[:, 0], len(palette) - 1)]
    values = values.astype(np.uint8)
    if reader.bitdepth < 8:
        values = values * np.uint8(255 // (2**reader.bitdepth - 1))
    return np.repeat(values[:, :1], 3, axis=1) if reader.planes <= 2 else values[:, :3]


def _unpack(line: np.ndarray, reader: png.Reader) -> np.ndarray:
    """Packed scanline bytes -> its ``width x planes`` samples."""
    if reader.bitdepth == 16:
        return line.view(">u2")
    if reader.bitdepth == 8:
        return line
    bits = np.unpackbits(line).reshape(-1, reader.bitdepth)
    weights = 1 << np.arange(reader.bitdepth - 1, -1, -1, dtype=np.uint8)
    return (bits * weights).sum(axis=1, dtype=np.uint8)[:reader.width * reader.planes]


def _png_rows(path: str) -> Iterator[np.ndarray]:
    """The rows of a PNG file as uint8 ``[width, 3]``, decoded one at a time (an interlaced
    PNG, whose rows come in seven passes, is decoded whole by pypng first).

    Raises:
        UserError: (while iterating) a corrupt or truncated PNG.
    """
    try:
        with open(path, "rb") as f:
            reader = png.Reader(file=f)
            reader.preamble()
            palette = np.asarray(reader.palette(), np.uint8)[:, :3] if reader.colormap else None
            if reader.interlace:
                _, _, rows, _ = png.Reader(filename=path).read()
                for row in rows:
                    yield _rgb_row(np.asarray(row), reader, palette)
                return
            for line in _png_scanlines(reader):
                yield _rgb_row(_unpack(line, reader), reader, palette)
    except (png.Error, zlib.error) as error:
        raise UserError(f"{_UNREADABLE} ({error})") from None


class _BandReader:
    """``read_rows`` for :func:`translate_tiled_rows` over an iterator of uint8 rows: keeps
    only the rows from the latest band's top on (requests only move down the image)."""

    def __init__(self, rows: Iterator[np.ndarray], width: int) -> None:
        self.rows = rows
        self.first = 0
        self.buffer = np.zeros((0, width, 3), np.uint8)

    def __call__(self, top: int, end: int) -> np.ndarray:
        missing = end - self.first - len(self.buffer)
        new = []
        for _ in range(missing):
            row = next(self.rows, None)
            if row is None:
                raise UserError(f"{_UNREADABLE} (it ends before its last row)")
            new.append(row)
        kept = self.buffer[top - self.first:]
        self.buffer = np.concatenate([kept, np.stack(new)]) if new else kept
        self.first = top
        return to_signed_unit(self.buffer[:end - top]).numpy()


def _decode_file(path: str) -> tf.Tensor:
    """The whole image of `path`, uint8 ``[H, W, 3]``."""
    with open(path, "rb") as f:
        contents = f.read()
    try:
        return decode_image(tf.constant(contents), channels=3)
    except tf.errors.InvalidArgumentError:
        raise UserError(_UNREADABLE) from None


def _translate_streamed(generator: Any, source: str, target: str, width: int, height: int,
                        tile: int) -> None:
    """Translate `source` in `tile` tiles, a band of rows at a time, into the PNG `target`."""
    with open(source, "rb") as f:
        is_png = f.read(len(_PNG_MAGIC)) == _PNG_MAGIC
    if is_png:
        rows: Iterator[np.ndarray] = _png_rows(source)
    else:
        # JPEG/BMP/GIF have no row decoder here: decoded whole, but only as uint8.
        image = _decode_file(source).numpy()
        if image.shape[:2] != (height, width):
            raise UserError(f"the header says {width}x{height} pixels but it decodes to "
                             f"{image.shape[1]}x{image.shape[0]}")
        rows = iter(image)
    blocks = translate_tiled_rows(generator, _BandReader(rows, width), height, width, tile,
                                  tiles_per_batch=STREAM_TILES_PER_BATCH)
    # converted a row at a time: a whole block's float temporaries would be 4 x its size
    output_rows = (from_signed_unit_numpy(row).tobytes() for block in blocks for row in block)
    with atomic_write(target, "image") as tmp, open(tmp, "wb") as out:
        png.Writer(width, height, greyscale=False).write(out, output_rows)


def translate_paths(
    model_dir: str,
    input_path: str,
    output_path: str,
    direction: str = "a2b",
    tile: int | None = None,
    report: Callable[[str], None] = print,
    max_pixels: int | None = None,
) -> list[str]:
    """Translate an image file or every image under a folder; outputs are PNGs.

    Sizes are read from each file's header before it is decoded. Files of more than
    `max_pixels` pixels are refused; images whose whole translation would take more than
    :data:`UNTILED_MEMORY_BUDGET` are tiled (:func:`automatic_tile`) with a line to `report`;
    tiled translation streams bands of rows from the input file to the output file (module
    docstring).

    Args:
        model_dir: exported CycleGAN (``saved_models/cyclegan[/VERSION]``) or run directory.
        input_path: an image file, or a folder (searched recursively).
        output_path: for a file, the output path (or an existing folder to put ``NAME.png``
            in); for a folder, the output folder (sub-folders are mirrored).
        direction: ``a2b`` or ``b2a``.
        tile: translate in ``tile x tile`` tiles (multiple of 4, at least 8) with blended
            overlaps, streamed; a tile larger than an image translates it whole. None: whole,
            unless too large for memory.
        report: where per-file lines go.
        max_pixels: the most pixels (width x height) an image may have; None:
            :data:`MAX_PIXELS`.

    Returns:
        The paths written.

    Raises:
        UserError: bad direction/tile/max_pixels, not a CycleGAN, a single input that is not
            a readable image or has more than `max_pixels` pixels, or a folder none of whose
            images could be translated (unreadable ones are otherwise skipped with a message
            on stderr).
        FileNotFoundError: the model or input does not exist.
    """
    if tile is not None and (tile < MIN_GENERATOR_SIZE or tile % SIZE_MULTIPLE):
        raise UserError(f"must be a multiple of {SIZE_MULTIPLE}, at least "
                        f"{MIN_GENERATOR_SIZE}, got {tile}", option="tile")
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise UserError(f"must be a positive integer, got {max_pixels!r}", option="max_pixels")
    generator = load_translator(model_dir, direction)
    pairs = map_output_paths(input_path, output_path)
    written = []
    for source, target in pairs:
        try:
            width, height = image_file_size(source)
            if width * height > max_pixels:
                raise UserError(f"the image is {width}x{height} pixels ({width * height / 1e6:.3g}"
                                f" megapixels), more than the limit of {max_pixels} (raise it "
                                "with --max-pixels, max_pixels in Python)")
            if min(width, height) < MIN_INPUT_SIZE:
                raise UserError(f"the image is {width}x{height} pixels; at least "
                                f"{MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} are needed")
            file_tile = tile_for_generator(generator, tile, height, width)
            needed = untiled_memory_estimate(generator, height, width)
            if file_tile is None and needed > UNTILED_MEMORY_BUDGET:
                file_tile = automatic_tile(generator)
                report(f"{source} is {width}x{height} pixels, about {needed / 2**30:.1f} GiB "
                       f"to translate whole: translating it in {file_tile}x{file_tile} tiles "
                       "(choose with --tile)")
            if file_tile is not None:
                _translate_streamed(generator, source, target, width, height, file_tile)
            else:
                image = _decode_file(source)
                output = translate(generator, to_signed_unit(image[None]))[0]
                save_png(output, target)  # float [-1, 1], converted by save_png
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            reason = error_reason(error) if isinstance(error, tf.errors.OpError) else str(error)
            if len(pairs) == 1:
                raise UserError(f"cannot translate {source}: {reason}") from None
            print(f"skipped {source}: {reason}", file=sys.stderr)
            continue
        written.append(target)
        report(f"{source} -> {target}")
    if not written:
        raise UserError(f"none of the {len(pairs)} files under {input_path} could be "
                         "translated")
    return written
