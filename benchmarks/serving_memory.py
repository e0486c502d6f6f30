"""Peak memory of one request to the exported ``*_image_bytes`` signatures, by image size.

The figures behind the default ``max_pixels`` of the CycleGAN and pix2pix exports (see README,
"Export and serving"). For each model variant (the applications' default architectures, random
weights: memory does not depend on them) the model is exported once; then, for each size, a
fresh Python process loads the SavedModel with TensorFlow only, sends one small image (so
tracing and kernel set-up are out of the figure), resets its peak RSS to the current one
(``/proc/self/clear_refs``; Linux only), sends one PNG of that many pixels (4:3, all black, on
CPU) and reads the peak RSS (``VmHWM``; ``ru_maxrss`` follows it). One JSON line per
(variant, pixels)::

    {"variant": "cyclegan", "pixels": 1000000, "baseline_mib": 812, "peak_mib": 2310,
     "request_mib": 1498, "bytes_per_pixel": 1571, "seconds": 21.3}

``request_mib`` (peak minus baseline) is what one request adds; ``bytes_per_pixel`` is it per
pixel. Usage::

    python benchmarks/serving_memory.py [--variants cyclegan pix2pix_translation ...]
        [--pixels 250000 1000000 ...]

Variants: ``cyclegan`` (ResNet generator, 64 filters, 9 residual blocks), ``pix2pix_translation``
(U-Net 256, 64 filters) and ``pix2pix_segmentation_K`` for a number of classes K.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zlib

SIGNATURES = {"cyclegan": "a2b_image_bytes", "pix2pix_translation": "translate_image_bytes"}


def black_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` black pixels, without holding its pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte + RGB
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def export_variant(variant: str, export_dir: str) -> tuple[str, str]:
    """Export ``variant`` (default architecture, no pixel limit to speak of); returns the
    SavedModel path and the signature to call."""
    from tfgan_apps import CycleGAN, export_saved_model
    from tfgan_apps.models.pix2pix import Pix2Pix

    if variant == "cyclegan":
        model = CycleGAN()
    elif variant == "pix2pix_translation":
        model = Pix2Pix(mode="translation")
    elif variant.startswith("pix2pix_segmentation_"):
        model = Pix2Pix(mode="segmentation", num_classes=int(variant.rsplit("_", 1)[1]))
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    path = export_saved_model(model, export_dir, name=variant, max_pixels=2 ** 40)
    return path, SIGNATURES.get(variant, "segment_image_bytes")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def child(path: str, signature: str, image_path: str) -> None:
    """Runs in a fresh process: print the RSS before one request and the peak during it."""
    import resource
    import time

    import tensorflow as tf

    serve = tf.saved_model.load(path).signatures[signature]
    serve(image_bytes=tf.constant([black_png(64, 48)]))
    with open(image_path, "rb") as f:
        request = tf.constant([f.read()])
    # Loading peaks higher than it ends, so the lifetime peak (ru_maxrss) would hide a
    # request's; "5" resets the peak RSS (VmHWM, and ru_maxrss with it) to the current RSS.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    baseline = _status_kib("VmRSS")
    start = time.perf_counter()
    serve(image_bytes=request)
    seconds = time.perf_counter() - start
    peak = max(_status_kib("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=[
        "cyclegan", "pix2pix_translation", "pix2pix_segmentation_4",
        "pix2pix_segmentation_256"])
    parser.add_argument("--pixels", nargs="+", type=int,
                        default=[250_000, 1_000_000, 2_000_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            path, signature = export_variant(variant, tmp)
            for pixels in args.pixels:
                width = round(math.sqrt(pixels * 4 / 3))
                height = round(pixels / width)
                image_path = os.path.join(tmp, "image.png")
                with open(image_path, "wb") as f:
                    f.write(black_png(width, height))
                done = subprocess.run(
                    [sys.executable, __file__, "--child", path, signature, image_path],
                    capture_output=True, text=True)
                if done.returncode != 0:
                    print(json.dumps({"variant": variant, "pixels": width * height,
                                      "returncode": done.returncode,
                                      "stderr": done.stderr[-300:]}), flush=True)
                    continue
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                request = (figures["peak_kib"] - figures["baseline_kib"]) * 1024
                print(json.dumps({
                    "variant": variant, "pixels": width * height, "size": f"{width}x{height}",
                    "baseline_mib": round(figures["baseline_kib"] / 1024),
                    "peak_mib": round(figures["peak_kib"] / 1024),
                    "request_mib": round(request / 2 ** 20),
                    "bytes_per_pixel": round(request / (width * height)),
                    "seconds": round(figures["seconds"], 1)}), flush=True)


if __name__ == "__main__":
    main()
