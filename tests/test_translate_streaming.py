"""`tfgan-apps translate` with bounded memory: header sizes, a pixel limit checked before
decoding, tiles streamed a band of rows at a time (blended exactly as in memory), and the peak
RSS of an 8000x6000 translation measured in a subprocess."""

from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib

import numpy as np
import png
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_apps import CycleGAN
from tfgan_apps.data.convert import from_signed_unit_numpy, to_signed_unit
from tfgan_apps.errors import UserError
from tfgan_apps.inference import (
    _axis_tiles,
    translate_any_size,
    translate_tiled,
    translate_tiled_rows,
)
from tfgan_apps.networks import build_resnet_generator
from tfgan_apps.translate import (
    DEFAULT_TILE,
    UNTILED_MEMORY_BUDGET,
    _png_rows,
    automatic_tile,
    image_file_size,
    load_translator,
    translate_paths,
    untiled_memory_estimate,
)

#: peak RSS allowed to `translate` of an 8000x6000 PNG with a tiny CycleGAN, tiled at 512 px
#: (measured: 1.04 GB, 0.64 GB of it TensorFlow and the model; translated whole it would be
#: estimated at 3.9 GiB more)
STREAMED_RSS_BUDGET_KB = 1_500_000
#: peak RSS allowed to refusing a 20000x20000 PNG (measured: 0.64 GB, what loading TensorFlow
#: and the model take)
REFUSAL_RSS_BUDGET_KB = 1_000_000

# Runs a command and prints the peak RSS (KB) of its process tree's largest process, so that
# the figure is this command's alone, not that of this test process's other children.
_MEASURE = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(done.returncode)")


def run_cli(*args: str, measure: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tfgan_apps.cli", *args]
    if measure:
        command = [sys.executable, "-c", _MEASURE, *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def peak_rss_kb(done: subprocess.CompletedProcess) -> int:
    return int(done.stderr.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory holding an (untrained) tiny CycleGAN's ``model.keras``: all that
    ``translate`` reads from a run (training one is tests/test_cli_cyclegan.py's)."""
    run = tmp_path_factory.mktemp("streaming") / "run"
    run.mkdir()
    tf.keras.utils.set_random_seed(0)
    CycleGAN(image_size=32, base_filters=2, discriminator_filters=2, discriminator_layers=2,
             num_residual_blocks=1, pool_size=2).save(run / "model.keras")
    return str(run)


@pytest.fixture(scope="module")
def generator(run_dir):
    return load_translator(run_dir)


def noise_image(height, width, seed=0):
    """uint8 [H, W, 3]: noise over a gradient, so tiles see different statistics."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 160, width)[None, :, None] + np.linspace(0, 60, height)[:, None, None]
    return np.clip(ramp + rng.integers(0, 96, (height, width, 3)), 0, 255).astype(np.uint8)


def reference_translate_tiled(generator, images, tile, overlap, tiles_per_batch=4):
    """translate_tiled as it was before streaming (whole-image sums, eager calls)."""
    _, height, width, _ = images.shape
    rows, cols = _axis_tiles(height, tile, overlap), _axis_tiles(width, tile, overlap)
    windows = [(top, left, np.outer(wy, wx)[..., None])
               for top, wy in rows for left, wx in cols]
    outputs = np.zeros(images.shape, np.float32)
    for index, image in enumerate(images):
        total = np.zeros(image.shape, np.float32)
        weight = np.zeros(image.shape[:2] + (1,), np.float32)
        for first in range(0, len(windows), tiles_per_batch):
            group = windows[first:first + tiles_per_batch]
            crops = np.stack([image[t:t + w.shape[0], s:s + w.shape[1]] for t, s, w in group])
            translated = translate_any_size(generator, crops).numpy()
            for (t, s, w), out in zip(group, translated, strict=True):
                total[t:t + w.shape[0], s:s + w.shape[1]] += w * out
                weight[t:t + w.shape[0], s:s + w.shape[1]] += w
        outputs[index] = total / weight
    return outputs


# --- streaming tiles in memory (no model training needed) ----------------------------------


def test_streamed_rows_are_the_blend_of_before_and_read_bounded_bands():
    tf.keras.utils.set_random_seed(0)
    net = build_resnet_generator(32, base_filters=4, num_residual_blocks=1)
    image = to_signed_unit(noise_image(150, 110)).numpy()
    tile, overlap = 32, 12
    before = reference_translate_tiled(net, image[None], tile, overlap)[0]
    now = translate_tiled(net, image[None], tile, overlap)[0]
    # graph vs eager calls of the same network: float rounding only
    np.testing.assert_allclose(now, before, atol=2e-5)

    requests = []

    def read_rows(top, end):
        requests.append((top, end))
        return image[top:end]

    blocks = list(translate_tiled_rows(net, read_rows, 150, 110, tile, overlap))
    np.testing.assert_array_equal(np.concatenate(blocks), now)  # the same code, exactly
    assert all(end - top == tile for top, end in requests)
    assert [top for top, _ in requests] == sorted(top for top, _ in requests)
    assert all(len(block) <= tile for block in blocks)


def test_estimate_and_automatic_tile():
    small = build_resnet_generator(32, base_filters=4, num_residual_blocks=1)
    wide = build_resnet_generator(32, base_filters=64, num_residual_blocks=1)
    assert untiled_memory_estimate(wide, 1000, 1000) > 6 * untiled_memory_estimate(
        small, 1000, 1000)
    # the default generator is tiled from a few megapixels, a tiny one much later
    assert untiled_memory_estimate(wide, 6000, 8000) > UNTILED_MEMORY_BUDGET
    assert untiled_memory_estimate(wide, 1080, 1920) < UNTILED_MEMORY_BUDGET
    assert untiled_memory_estimate(small, 3000, 4000) < UNTILED_MEMORY_BUDGET
    assert automatic_tile(small) == automatic_tile(wide) == DEFAULT_TILE


# --- headers and PNG rows -----------------------------------------------------------------


@pytest.mark.parametrize("format_, options", [
    ("PNG", {}), ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 3000}),
    ("JPEG", {"progressive": True}), ("GIF", {}), ("BMP", {})])
def test_header_sizes(tmp_path, format_, options):
    path = tmp_path / f"x.{format_.lower()}"
    Image.fromarray(noise_image(23, 37)).save(path, format_, **options)
    assert image_file_size(str(path)) == (37, 23)


def test_bad_headers_are_user_errors(tmp_path):
    Image.fromarray(noise_image(23, 37)).save(tmp_path / "x.png")
    Image.fromarray(noise_image(23, 37)).save(tmp_path / "x.jpg")
    (tmp_path / "short.png").write_bytes((tmp_path / "x.png").read_bytes()[:20])
    (tmp_path / "short.jpg").write_bytes((tmp_path / "x.jpg").read_bytes()[:100])
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    for name in ("short.png", "short.jpg", "text.png"):
        with pytest.raises(UserError, match="not a readable PNG, JPEG, BMP or GIF image"):
            image_file_size(str(tmp_path / name))


def write_png(path, values, **options):
    height, width = values.shape[:2]
    with open(path, "wb") as f:
        png.Writer(width, height, **options).write(f, values.reshape(height, -1).tolist())


@pytest.mark.parametrize("kind", ["rgb", "rgba", "grey", "grey_alpha", "grey1", "grey2",
                                  "grey4", "rgb16", "palette", "interlaced"])
def test_png_rows_decode_as_tensorflow_does(tmp_path, kind):
    rng = np.random.default_rng(1)
    path = str(tmp_path / "x.png")
    shape = (9, 13)
    if kind in ("rgb", "interlaced"):
        write_png(path, rng.integers(0, 256, shape + (3,)), greyscale=False,
                  interlace=kind == "interlaced")
    elif kind == "rgba":
        write_png(path, rng.integers(0, 256, shape + (4,)), greyscale=False, alpha=True)
    elif kind == "grey":
        write_png(path, rng.integers(0, 256, shape), greyscale=True)
    elif kind == "grey_alpha":
        write_png(path, rng.integers(0, 256, shape + (2,)), greyscale=True, alpha=True)
    elif kind.startswith("grey"):
        bits = int(kind[4:])
        write_png(path, rng.integers(0, 2**bits, shape), greyscale=True, bitdepth=bits)
    elif kind == "rgb16":
        write_png(path, rng.integers(0, 65536, shape + (3,)), greyscale=False, bitdepth=16)
    else:
        palette = [tuple(int(v) for v in rng.integers(0, 256, 3)) + (128,) for _ in range(7)]
        write_png(path, rng.integers(0, 7, shape), palette=palette)
    expected = tf.io.decode_image(open(path, "rb").read(), channels=3,
                                  expand_animations=False).numpy()
    np.testing.assert_array_equal(np.stack(list(_png_rows(path))), expected)


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_filtered_png(path, image, bitdepth=8):
    """A PNG whose rows use the five filters in turn (libpng and PIL seldom pick Average),
    its data split into 100-byte IDAT chunks."""
    height, width, channels = image.shape
    dtype = ">u2" if bitdepth == 16 else np.uint8
    raw = np.ascontiguousarray(image.astype(dtype)).view(np.uint8).reshape(height, -1)
    unit = channels * bitdepth // 8
    lines, previous = [], np.zeros(raw.shape[1], np.int32)
    for row in range(height):
        x = raw[row].astype(np.int32)
        a = np.concatenate([np.zeros(unit, np.int32), x[:-unit]])
        b = previous
        c = np.concatenate([np.zeros(unit, np.int32), b[:-unit]])
        kind = row % 5
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        predictor = [0 * x, a, b, (a + b) // 2, paeth][kind]
        lines.append(bytes([kind]) + ((x - predictor) % 256).astype(np.uint8).tobytes())
        previous = x
    data = zlib.compress(b"".join(lines))
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, bitdepth, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                + b"".join(png_chunk(b"IDAT", data[i:i + 100]) for i in range(0, len(data), 100))
                + png_chunk(b"IEND", b""))


@pytest.mark.parametrize("channels, bitdepth", [(3, 8), (1, 8), (4, 8), (3, 16), (2, 16)])
def test_png_rows_undo_every_filter(tmp_path, channels, bitdepth):
    image = np.random.default_rng(2).integers(0, 2**bitdepth, (11, 17, channels))
    path = str(tmp_path / "x.png")
    write_filtered_png(path, image, bitdepth)
    expected = tf.io.decode_image(open(path, "rb").read(), channels=3,
                                  expand_animations=False).numpy()
    np.testing.assert_array_equal(np.stack(list(_png_rows(path))), expected)


def test_png_rows_inflate_a_bounded_amount(tmp_path):
    """A 48 KB PNG inflates to 50 MB; its first rows come without inflating all of it."""
    path = str(tmp_path / "flat.png")
    one_colour_png(path, 20000, 20000)
    tracemalloc.start()
    try:
        first = list(itertools.islice(_png_rows(path), 100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first) == 100 and first[0].shape == (20000, 3) and not first[0].any()
    assert peak < 20 * 2**20, peak


# --- the CLI --------------------------------------------------------------------------------


def test_cli_streams_what_translate_tiled_gives(run_dir, generator, tmp_path):
    """A PNG (rows streamed by pypng) and a JPEG (decoded whole as uint8) of 203x150, in 64 px
    tiles: the written PNGs are the in-memory translate_tiled result, converted to uint8."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(noise_image(150, 203, seed=2)).save(photos / "a.png")
    Image.fromarray(noise_image(150, 203, seed=3)).save(photos / "b.jpg", quality=90)
    done = run_cli("translate", run_dir, str(photos), str(tmp_path / "out"), "--tile", "64")
    assert done.returncode == 0, done.stderr
    for name in ("a.png", "b.jpg"):
        image = tf.io.decode_image((photos / name).read_bytes(), channels=3,
                                   expand_animations=False)
        expected = from_signed_unit_numpy(translate_tiled(
            generator, to_signed_unit(image[None]), 64, tiles_per_batch=1)[0])
        written = np.asarray(Image.open(tmp_path / "out" / (name[0] + ".png")).convert("RGB"))
        np.testing.assert_array_equal(written, expected)


def test_max_pixels_in_python(run_dir, tmp_path):
    Image.fromarray(noise_image(20, 30)).save(tmp_path / "a.png")
    with pytest.raises(UserError, match=r"30x20 pixels .* more than the limit of 100"):
        translate_paths(run_dir, str(tmp_path / "a.png"), str(tmp_path / "o.png"),
                        max_pixels=100)
    assert not (tmp_path / "o.png").exists()


def big_rows(height, width):
    """uint8 [width, 3] rows of a mostly flat picture with a few stripes, made on the fly."""
    base = np.empty((width, 3), np.uint8)
    base[:] = (90, 140, 200)
    base[::97] = (250, 20, 20)
    for row in range(height):
        line = base.copy()
        if row % 211 < 3:
            line[:] = (10, 10, 10)
        yield line


def test_8000x6000_is_streamed_within_the_memory_budget(run_dir, generator, tmp_path):
    width, height = 8000, 6000
    source, target = str(tmp_path / "big.png"), str(tmp_path / "big_out.png")
    with open(source, "wb") as f:
        png.Writer(width, height, greyscale=False, compression=1).write(
            f, (row.tobytes() for row in big_rows(height, width)))
    done = run_cli("translate", run_dir, source, target, measure=True)
    assert done.returncode == 0, done.stderr
    assert "is 8000x6000 pixels" in done.stdout and "512x512 tiles" in done.stdout, done.stdout
    rss = peak_rss_kb(done)
    print(f"translate 8000x6000 PNG, streamed in 512 px tiles: peak RSS {rss / 1e6:.2f} GB")
    assert rss < STREAMED_RSS_BUDGET_KB, rss
    assert image_file_size(target) == (width, height)

    # Rows above the second tile row (384 = 512 - overlap 128) come from the first tile row
    # only: they equal the in-memory tiling of the top 512 rows.
    top = np.stack(list(itertools.islice(big_rows(height, width), 512)))
    expected = from_signed_unit_numpy(translate_tiled(
        generator, to_signed_unit(top[None]), 512, tiles_per_batch=1)[0, :384])
    _, rows_left, written_rows, _ = png.Reader(filename=target).read()
    assert rows_left == height
    first = np.stack([np.frombuffer(r, np.uint8).reshape(width, 3)
                      for r in itertools.islice(written_rows, 384)])
    np.testing.assert_array_equal(first, expected)


def one_colour_png(path, width, height):
    """A 1-bit grey PNG of one colour in one IDAT chunk: 20000x20000 of it is a 48 KB file."""
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    data += compressor.compress(row * (height % 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data)
                + png_chunk(b"IEND", b""))


def test_pixel_limit_refuses_before_decoding(run_dir, tmp_path):
    source = str(tmp_path / "flat.png")
    one_colour_png(source, 20000, 20000)
    assert os.path.getsize(source) < 100_000
    # a valid PNG: its rows decode
    width, height, rows, _ = png.Reader(filename=source).read()
    assert (width, height) == (20000, 20000) and list(next(rows)) == [0] * 20000
    done = run_cli("translate", run_dir, source, str(tmp_path / "o.png"), measure=True)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("tfgan-apps")]
    assert len(lines) == 1, done.stderr
    assert ("cannot translate" in lines[0] and "20000x20000 pixels (400 megapixels)" in lines[0]
            and "--max-pixels" in lines[0]), lines[0]
    rss = peak_rss_kb(done)
    print(f"refusing a 20000x20000 PNG: peak RSS {rss / 1e6:.2f} GB")
    assert rss < REFUSAL_RSS_BUDGET_KB, rss
    assert not (tmp_path / "o.png").exists()
