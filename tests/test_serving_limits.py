"""The ``*_image_bytes`` signatures refuse oversized images by their header, before decoding.

Called as TF Serving would (``tf.saved_model.load(path).signatures[NAME]``) on tiny CycleGAN
and pix2pix exports: images whose header claims more pixels than the export's ``max_pixels``
(PNG, JPEG, GIF, BMP; crafted headers, a few hundred bytes each), truncated or garbage bytes,
all with ``InvalidArgument``; decompression bombs in a subprocess, whose memory must stay low
and which must exit normally (not abort on ``std::bad_alloc``); ``--max-pixels`` /
``max_pixels=`` changing the limit and the export recording it.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import tensorflow as tf

from tfgan_apps import CycleGAN, export_saved_model
from tfgan_apps.cli import main
from tfgan_apps.export import cyclegan as cyclegan_export
from tfgan_apps.export import pix2pix as pix2pix_export
from tfgan_apps.export.image_io import MAX_PIXELS_ATTRIBUTE
from tfgan_apps.models.pix2pix import Pix2Pix
from tfgan_apps.networks import build_patch_discriminator, build_unet_generator

TOO_LARGE = "exceeds the limit of this model"


# ----------------------------------------------------------------------------- crafted files
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR says ``width`` x ``height`` (RGB, 8 bits) with a few bytes of IDAT:
    what a decoder would allocate for is all in the header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def black_png(width: int, height: int) -> bytes:
    """A complete, valid PNG of black pixels, compressed row by row (never held decoded)."""
    compressor = zlib.compressobj(1)
    row = b"\x00" * (1 + 3 * width)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose frame header (SOF0) is patched to say ``width`` x ``height``."""
    data = bytearray(tf.io.encode_jpeg(np.zeros((8, 8, 3), np.uint8)).numpy())
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height, width
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """A GIF header with a logical screen of ``width`` x ``height`` and no frames."""
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b"\x3b"


def bmp_claiming(width: int, height: int) -> bytes:
    """A BMP file header + BITMAPINFOHEADER (24 bits) of ``width`` x ``height``, no pixels."""
    return (b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0))


@functools.cache
def photo_8000x6000() -> bytes:
    """The report's case: a complete black 8000x6000 PNG, ~600 KB (under the former 64M-pixel
    cap; decoded 137 MiB, and far more through a generator)."""
    return black_png(8000, 6000)


# name -> (width, height, the file): far above any default limit, gigabytes each if decoded.
BOMBS = {
    "png": (20000, 20000, lambda: png_claiming(20000, 20000)),
    "jpeg": (60000, 50000, lambda: jpeg_claiming(60000, 50000)),
    "gif": (65535, 65535, lambda: gif_claiming(65535, 65535)),
    "bmp_top_down": (30000, 30000, lambda: bmp_claiming(30000, -30000)),  # negative height
    "png_uint32_max": (2 ** 32 - 1, 2 ** 32 - 1,  # width * height overflows int64
                       lambda: png_claiming(2 ** 32 - 1, 2 ** 32 - 1)),
}


# ----------------------------------------------------------------------------- tiny exports
def tiny_cyclegan() -> CycleGAN:
    tf.keras.utils.set_random_seed(0)
    return CycleGAN(image_size=16, base_filters=4, discriminator_filters=4,
                    discriminator_layers=2, num_residual_blocks=1, pool_size=2)


def tiny_segmenter() -> Pix2Pix:
    generator = build_unet_generator(32, 3, 4, base_filters=4, max_filters=16,
                                     output_activation=None)
    return Pix2Pix(generator, build_patch_discriminator(32, 3, 4, base_filters=4))


@pytest.fixture(scope="module")
def export_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="module")
def exports(export_root) -> dict[str, tuple[str, str, int]]:
    """app -> (SavedModel path, image-bytes signature, default limit), both at defaults."""
    return {
        "cyclegan": (export_saved_model(tiny_cyclegan(), export_root), "a2b_image_bytes",
                     cyclegan_export.DEFAULT_MAX_PIXELS),
        "pix2pix": (export_saved_model(tiny_segmenter(), export_root), "segment_image_bytes",
                    pix2pix_export.default_max_pixels(tiny_segmenter())),
    }


@pytest.fixture(scope="module")
def loaded(exports) -> dict[str, tuple[object, object, int]]:
    """app -> (loaded SavedModel, its image-bytes signature, default limit)."""
    result = {}
    for app, (path, name, limit) in exports.items():
        saved_model = tf.saved_model.load(path)
        result[app] = (saved_model, saved_model.signatures[name], limit)
    return result


def call(signature, *files: bytes) -> list[np.ndarray]:
    """Send ``files`` as one request; the decoded PNGs it returns."""
    out = signature(image_bytes=tf.constant(list(files)))
    (pngs,) = out.values()
    return [tf.io.decode_png(png).numpy() for png in pngs.numpy()]


APPS = ["cyclegan", "pix2pix"]


# ----------------------------------------------------------------------------- oversized
def test_default_limits_fit_the_budget():
    # From the measured figures (README, 4 GiB per request): 616 bytes per pixel through the
    # CycleGAN generator; ~4 per class and pixel for pix2pix segmentation. The 8000x6000 photo
    # of the report (48M pixels) is over all of them.
    assert cyclegan_export.DEFAULT_MAX_PIXELS * 616 < 4 * 2 ** 30
    limits = {}
    for classes in (2, 4, 49, 50, 256):
        generator = build_unet_generator(32, 3, classes, base_filters=2, max_filters=4,
                                         output_activation=None)
        model = Pix2Pix(generator, build_patch_discriminator(32, 3, classes, base_filters=2))
        limits[classes] = pix2pix_export.default_max_pixels(model)
    assert limits == {2: 16_000_000, 4: 16_000_000, 49: 16_000_000, 50: 15_900_000,
                      256: 3_300_000}
    assert limits[256] * 1070 < 4 * 2 ** 30  # 1070 bytes per pixel measured at 3.3M pixels
    translator = Pix2Pix(mode="translation", image_size=32, base_filters=2)
    assert pix2pix_export.default_max_pixels(translator) == 16_000_000
    assert max(cyclegan_export.DEFAULT_MAX_PIXELS, *limits.values()) < 8000 * 6000


@pytest.mark.parametrize("app", APPS)
def test_a_small_photo_file_of_8000x6000_is_refused_before_decoding(loaded, app):
    _, signature, limit = loaded[app]
    photo = photo_8000x6000()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"the image is 8000x6000 pixels, which {TOO_LARGE} "
                             rf"\({limit} pixels\); resize it"):
        call(signature, photo)


@pytest.mark.parametrize("case", sorted(BOMBS))
@pytest.mark.parametrize("app", APPS)
def test_headers_claiming_huge_sizes_are_refused(loaded, app, case):
    _, signature, _ = loaded[app]
    width, height, make = BOMBS[case]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"the image is {width}x{height} pixels, which {TOO_LARGE}"):
        call(signature, make())


def test_the_messages_say_what_to_do_instead(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="use `tfgan-apps translate --tile` locally"):
        call(loaded["cyclegan"][1], png_claiming(20000, 20000))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="the model works at 32x32.*--max-pixels"):
        call(loaded["pix2pix"][1], png_claiming(20000, 20000))


def test_one_oversized_file_fails_the_request_and_the_next_one_works(loaded):
    _, signature, _ = loaded["cyclegan"]
    small = tf.io.encode_png(np.zeros((20, 24, 3), np.uint8)).numpy()
    with pytest.raises(tf.errors.InvalidArgumentError, match=TOO_LARGE):
        call(signature, small, png_claiming(20000, 20000))
    assert call(signature, small)[0].shape == (20, 24, 3)


# ----------------------------------------------------------------------------- bad bytes
@pytest.mark.parametrize("payload, message", [
    (b"", "image_bytes is empty"),
    (b"certainly not an image", "Unknown image file format: .*PNG, JPEG, GIF or BMP"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "Unknown image file format"),  # WebP is not accepted
    (b"\x89PNG\r\n\x1a\n\x00\x00", "the PNG file is truncated: its header needs 24 bytes, got 10"),
    (png_claiming(64, 48)[:20], "the PNG file is truncated"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "the PNG file does not start with an IHDR chunk"),
    (png_claiming(0, 48), "size of 0x48 pixels: width and height must be at least 1"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\xff\xd8\xff" + b"\x13" * 64, "JPEG"),
    (jpeg_claiming(64, 48)[:40], "JPEG"),
    (b"GIF89a\x10", "the GIF file is truncated"),
    (b"BM" + b"\x00" * 12, "the BMP file is truncated"),
    (bmp_claiming(-5, 5), "size of -5x5 pixels"),
])
@pytest.mark.parametrize("app", APPS)
def test_truncated_or_garbage_bytes_are_invalid_argument(loaded, app, payload, message):
    _, signature, _ = loaded[app]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(signature, payload)


# ----------------------------------------------------------------------------- memory
_BOMB_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf

    def status(field):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(field + ":")) * 1024

    targets, warm_up, *paths = sys.argv[1:]
    signatures = [tf.saved_model.load(path).signatures[name]
                  for path, name in json.loads(targets)]
    with open(warm_up, "rb") as f:
        small = f.read()
    for signature in signatures:  # tracing and kernel set-up, out of the measured peak
        signature(image_bytes=tf.constant([small]))
    files = []
    for path in paths:
        with open(path, "rb") as f:
            files.append(f.read())
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's RSS at fork, which
    # inside a long test session is gigabytes
    lifetime_peak = status("VmHWM")
    try:  # the peak from here on (Linux >= 4.0; else only the lifetime peak is bounded)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = status("VmRSS")
    refused = 0
    for signature in signatures:
        for data in files:
            try:
                signature(image_bytes=tf.constant([data]))
            except tf.errors.InvalidArgumentError as error:
                refused += "exceeds the limit of this model" in error.message
    print(json.dumps({"refused": refused, "before": before, "peak": status("VmHWM"),
                      "lifetime_peak": max(lifetime_peak, status("VmHWM"))}))
""")


def test_bombs_cost_no_memory_and_never_abort_the_process(exports, tmp_path):
    # Decoded, the smallest of these files is 8000 * 6000 * 3 bytes = 137 MiB and the
    # 20000x20000 PNG 1.1 GiB, before any model runs on them. TensorFlow with both tiny exports
    # loaded takes well under 1 GiB, so a lifetime peak under 1.5 GiB means the large ones
    # were not decoded, and the peak while the requests ran may exceed the RSS before them by
    # little (< 64 MiB, less than half the smallest decoded image: allocator noise, messages).
    paths = []
    for name, data in [("warm_up.png", black_png(24, 20)), ("photo.png", photo_8000x6000()),
                       *((case, make()) for case, (_, _, make) in BOMBS.items())]:
        paths.append(str(tmp_path / name))
        with open(paths[-1], "wb") as f:
            f.write(data)
    targets = json.dumps([(path, name) for path, name, _ in exports.values()])
    done = subprocess.run([sys.executable, "-c", _BOMB_SCRIPT, targets, *paths],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    # A crash on std::bad_alloc would be SIGABRT: returncode -6.
    assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-2000:]}"
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["refused"] == len(exports) * (len(paths) - 1)
    assert figures["lifetime_peak"] < 1.5 * 2 ** 30, figures
    assert figures["peak"] - figures["before"] < 64 * 2 ** 20, figures


# ----------------------------------------------------------------------------- the limit
def test_the_default_limit_is_recorded_in_the_export(loaded):
    for saved_model, _, limit in loaded.values():
        (recorded,) = getattr(saved_model, MAX_PIXELS_ATTRIBUTE)
        assert recorded.dtype == tf.int64 and int(recorded.numpy()) == limit


def test_max_pixels_lowers_the_limit_baked_into_the_graph(loaded, export_root):
    # 40x24 = 960 pixels: allowed by the default limit, refused by an export at 959.
    image = tf.io.encode_png(np.full((24, 40, 3), 90, np.uint8)).numpy()
    assert call(loaded["cyclegan"][1], image)[0].shape == (24, 40, 3)
    path = export_saved_model(tiny_cyclegan(), export_root, name="lower", max_pixels=959)
    saved_model = tf.saved_model.load(path)
    (recorded,) = getattr(saved_model, MAX_PIXELS_ATTRIBUTE)
    assert int(recorded.numpy()) == 959
    recorded.assign(10 ** 9)  # only a record: the signatures hold the limit as a constant
    for name in ("a2b_image_bytes", "b2a_image_bytes"):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"the image is 40x24 pixels, .*\(959 pixels\)"):
            call(saved_model.signatures[name], image)


def test_export_max_pixels_flag(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_segmenter().save(str(run_dir / "model.keras"))
    export_dir = tmp_path / "saved_models"
    assert main(["export", str(run_dir), "--export-dir", str(export_dir),
                 "--max-pixels", "500"]) == 0
    saved_model = tf.saved_model.load(str(export_dir / "pix2pix" / "1"))
    assert int(getattr(saved_model, MAX_PIXELS_ATTRIBUTE)[0].numpy()) == 500
    signature = saved_model.signatures["segment_image_bytes"]
    assert call(signature, black_png(25, 20))[0].shape == (20, 25, 1)  # exactly 500 pixels
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"26x20 pixels.*\(500 pixels\)"):
        call(signature, black_png(26, 20))

    capsys.readouterr()
    for bad in ["0", "-3", "1.5", "many"]:
        assert main(["export", str(run_dir), "--export-dir", str(export_dir),
                     "--max-pixels", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--max-pixels" in err and "positive integer" in err
    assert os.listdir(export_dir / "pix2pix") == ["1"]  # nothing written by the bad ones


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "1000"])
def test_max_pixels_must_be_a_positive_integer(tmp_path, bad):
    with pytest.raises(ValueError, match=f"max_pixels must be a positive integer, got {bad!r}"):
        export_saved_model(tiny_segmenter(), str(tmp_path), max_pixels=bad)
    assert not os.path.exists(tmp_path / "pix2pix")


def test_dcgan_exports_take_no_images_so_no_limit(tmp_path):
    from tfgan_apps import DCGAN
    from tfgan_apps.networks import build_dcgan_discriminator, build_dcgan_generator

    dcgan = DCGAN(build_dcgan_generator(28, 1, 8, 8), build_dcgan_discriminator(28, 1, 8))
    with pytest.raises(ValueError, match="max_pixels does not apply to dcgan"):
        export_saved_model(dcgan, str(tmp_path), max_pixels=1000)
    path = export_saved_model(dcgan, str(tmp_path))
    assert not hasattr(tf.saved_model.load(path), MAX_PIXELS_ATTRIBUTE)
