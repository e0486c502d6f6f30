"""Training throughput of tfgan_apps on the peers' own networks, through ``tfgan_apps.train()``.

Each configuration is the network and batch of a peer's defaults (issue 11), trained with the
CLI's path (``train()``: data pipeline, model factory, optimizers, XLA and precision choices,
callbacks), on this package's built-in offline data resized to the configuration's size:

================== =============================================================== ==========
config             network                                                          batch
================== =============================================================== ==========
dcgan-tf-tutorial  ``--preset tf-tutorial``: the TF DCGAN tutorial's 28x28x1 nets   256
dcgan-64           ``--preset paper --generator-noise reuse`` 64x64x3: pytorch/examples
                   dcgan (ngf=ndf=64, one generator pass per step, as it does)      64
pix2pix-256        ``--preset paper`` translation (L1): U-Net-256 + 70x70 PatchGAN  1
cyclegan-256       ``--preset paper``: ResNet-9 ngf 64, PatchGANs, LSGAN, pool 50   1
cyclegan-128       the same ResNet-9 networks at 128x128 (9 blocks, the reference's) 1
dcgan-default      ``tfgan-apps train dcgan`` as it is (32x32x3 built-in set)       64
pix2pix-default    ``tfgan-apps train pix2pix`` (64x64 built-in segmentation)      16
cyclegan-default   ``tfgan-apps train cyclegan`` (64x64 built-in style domains)      1
================== =============================================================== ==========

The last three are each application's defaults: the rows that choose its XLA default.

One measurement (``--config NAME --xla on|off --precision P``) runs one process: a single
epoch of ``warmup + steps`` batches; a callback times every batch (reading a loss value, so the
step has finished). It prints one JSON line with:

- ``images_per_second``: the median over timed windows (``--windows``, default 5) of images/s,
  after the first (tracing/compiling) batch and ``--warmup`` more; ``images_per_second_mean``,
  ``step_s_median``;
- ``trace_s``: the first batch's seconds (tracing, XLA compilation, first step);
- ``peak_rss_mb``: peak resident memory of the process right after training;
- ``flops_per_step``: 2 x multiply-adds of the convolutions and matmuls (forward and
  backward, both networks) in one traced ``train_step`` graph, the same rule as the peers'
  harnesses (element-wise ops, norms and optimizer updates are not counted); ``gflops_per_s``;
- ``inference_images_per_second``: the exported SavedModel's ``serving_default`` (loaded with
  ``tf.saved_model.load``, as TF Serving does), batch ``--inference-batch``;
- ``data_images_per_second``: the training ``tf.data`` pipeline alone (the same
  ``application.datasets(config)`` that ``train()`` uses), which must be far above the training
  rate.

Without ``--config`` every combination (config x XLA on/off x precision) is measured, each in
its own process, one after the other (never two at once: timings on 2 cores).

Side by side with the peers (``--peers DIR``, the harness folder described in its README, e.g.
``../shared/peers``): for each configuration the script alternates ours and each matching peer
harness, ours-peer-ours-peer, ``--pairs`` times, one process each, and prints each pair's
ratio (ours / peer, from the median step time of each), because absolute times on shared
machines drift by tens of percent from one minute to the next. Interpreters and checkouts come
from the environment as in the harnesses' ``run_all.sh``: ``PEERS_HOME`` (default ``~/peers``),
``TORCH_PY``, ``TF_PY``, ``JUNYANZ_REPO``, ``PT_EXAMPLES_REPO``, ``TF_DOCS_REPO``,
``TF_EXAMPLES_REPO``, ``KERAS_IO_REPO``. The peers' code never enters this repository.

Usage::

    python benchmarks/throughput.py --config dcgan-64 --xla on --precision bf16
    python benchmarks/throughput.py                          # every combination
    python benchmarks/throughput.py --config cyclegan-256 --peers ../shared/peers --pairs 2 \\
        --xla off --precision bf16
    python benchmarks/throughput.py --config pix2pix-256 --xla off --precision fp32 --profile 3

``--profile STEPS`` traces that many steps after the timed ones with ``tf.profiler`` and adds
``top_operations``: the op types and ops with the largest share of self time (TensorFlow's
``framework_op_stats``, the table of TensorBoard's profiler).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))

#: name -> the TrainConfig.create settings of the peer's network and batch, and its peers
CONFIGS: dict[str, dict[str, Any]] = {
    "dcgan-tf-tutorial": {
        "settings": {"app": "dcgan", "preset": "tf-tutorial", "image_size": 28, "channels": 1,
                     "batch_size": 256},
        "peers": {"tf-tutorial": ("tf", "tf_tutorials.py", ["--nb", "dcgan"])},
    },
    "dcgan-64": {
        # the paper's networks; one generator pass per step, as the peer does
        "settings": {"app": "dcgan", "preset": "paper", "image_size": 64, "channels": 3,
                     "batch_size": 64, "generator_noise": "reuse"},
        "peers": {"pytorch-examples": ("torch", "torch_dcgan_examples.py", ["--batch", "64"])},
    },
    "pix2pix-256": {
        # translation with the L1 term (the peers' default task): an aligned A|B folder
        "settings": {"app": "pix2pix", "preset": "paper", "image_size": 256, "batch_size": 1,
                     "aligned_dir": "<aligned>"},
        "peers": {"tf-tutorial": ("tf", "tf_tutorials.py", ["--nb", "pix2pix"]),
                  "junyanz": ("torch", "torch_junyanz.py",
                              ["--model", "pix2pix", "--size", "256"])},
    },
    "cyclegan-256": {
        "settings": {"app": "cyclegan", "preset": "paper", "image_size": 256, "batch_size": 1,
                     "num_residual_blocks": 9},
        "peers": {"keras-io": ("tf", "keras_io.py", ["--example", "cyclegan"]),
                  "junyanz": ("torch", "torch_junyanz.py",
                              ["--model", "cycle_gan", "--size", "256"])},
    },
    "cyclegan-128": {
        "settings": {"app": "cyclegan", "preset": "paper", "image_size": 128, "batch_size": 1,
                     "num_residual_blocks": 9},
        "peers": {"junyanz": ("torch", "torch_junyanz.py",
                              ["--model", "cycle_gan", "--size", "128"])},
    },
    # each application's own defaults (``tfgan-apps train APP`` on the built-in data): the
    # rows that choose its CPU default for XLA
    "dcgan-default": {"settings": {"app": "dcgan", "batch_size": 64}, "peers": {}},
    "pix2pix-default": {"settings": {"app": "pix2pix", "batch_size": 16}, "peers": {}},
    "cyclegan-default": {"settings": {"app": "cyclegan", "batch_size": 1}, "peers": {}},
}
PRECISION_CHOICES = ("fp32", "bf16", "fp16")
#: timed steps when not given: enough for 5 windows, fewer where one step takes seconds
DEFAULT_STEPS = {"dcgan-tf-tutorial": 25, "dcgan-64": 25, "pix2pix-256": 15,
                 "cyclegan-256": 10, "cyclegan-128": 10, "dcgan-default": 25,
                 "pix2pix-default": 25, "cyclegan-default": 25}


# ----------------------------------------------------------------------------- measuring ours
def _live_operations(graph: Any) -> list[Any]:
    """The operations of a function graph that its outputs or its side effects (variable
    updates) depend on: what runs once TensorFlow has pruned the graph (an input gradient of a
    first layer, say, is built by the tape and then dropped)."""
    pending = [tensor.op for tensor in graph.outputs]
    pending += [op for op in graph.get_operations()
                if op._is_stateful and op.type not in ("VarHandleOp", "Placeholder")]
    seen: dict[str, Any] = {}
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        pending.extend(tensor.op for tensor in op.inputs)
        pending.extend(op.control_inputs)
    return list(seen.values())


def count_flops(graph: Any) -> int:
    """2 x multiply-adds of every convolution (forward, input and filter gradients) and matmul
    that runs in ``graph`` (a function's ``tf.Graph``), from static shapes."""
    total = 0
    for op in _live_operations(graph):
        kind = op.type
        try:
            if kind == "Conv2D":
                kh, kw, ci, _ = op.inputs[1].shape
                total += 2 * op.outputs[0].shape.num_elements() * kh * kw * ci
            elif kind == "Conv2DBackpropInput":  # also the forward pass of a transposed conv
                kh, kw, ci, _ = op.inputs[1].shape
                total += 2 * op.inputs[2].shape.num_elements() * kh * kw * ci
            elif kind == "Conv2DBackpropFilter":
                kh, kw, ci, _ = op.outputs[0].shape
                total += 2 * op.inputs[2].shape.num_elements() * kh * kw * ci
            elif kind == "MatMul":
                a, b = op.inputs[0].shape, op.inputs[1].shape
                m, k = (a[1], a[0]) if op.get_attr("transpose_a") else (a[0], a[1])
                n = b[0] if op.get_attr("transpose_b") else b[1]
                total += 2 * m * n * k
            elif kind in ("BatchMatMulV2", "BatchMatMulV3"):
                k = op.inputs[0].shape[-2 if op.get_attr("adj_x") else -1]
                total += 2 * op.outputs[0].shape.num_elements() * k
        except (TypeError, ValueError):  # a dimension unknown in the graph: not counted
            continue
    return int(total)


def _aligned_folder(path: str, size: int, count: int = 8) -> str:
    """``count`` smooth random A|B pairs, ``uint8 [size, 2*size, 3]`` PNGs (the aligned
    facades/maps layout), for pix2pix translation."""
    import numpy as np
    import tensorflow as tf

    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = rng.integers(0, 256, (1, 16, 32, 3)).astype("float32")
        pair = tf.image.resize(coarse, (size, 2 * size), method="bilinear")[0]
        png = tf.io.encode_png(tf.cast(tf.clip_by_value(pair, 0, 255), tf.uint8))
        tf.io.write_file(os.path.join(path, f"pair_{i:03d}.png"), png)
    return path


def _serving_inputs(signature: Any, batch: int, image_size: int) -> dict[str, Any]:
    import tensorflow as tf

    inputs = {}
    for name, spec in signature.structured_input_signature[1].items():
        shape = [batch if i == 0 else (d if d is not None else (3 if i == 3 else image_size))
                 for i, d in enumerate(spec.shape.as_list())]
        if spec.dtype == tf.uint8:
            inputs[name] = tf.random.uniform(shape, 0, 256, tf.int32, seed=0)
            inputs[name] = tf.cast(inputs[name], tf.uint8)
        else:
            inputs[name] = tf.random.normal(shape, seed=0, dtype=spec.dtype)
    return inputs


def top_operations(profile_dir: str, count: int = 12) -> list[dict[str, Any]]:
    """The ``count`` TensorFlow op types and the ops taking the most self time in a
    ``tf.profiler`` trace under ``profile_dir``, with their share of all ops' self time
    (idle threads excluded, reported first)
    (TensorFlow's own ``framework_op_stats`` tool, the table TensorBoard's profiler shows)."""
    import glob

    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as profiler_tools

    paths = sorted(glob.glob(os.path.join(profile_dir, "**", "*.xplane.pb"), recursive=True))
    if not paths:
        return []
    data, ok = profiler_tools.xspace_to_tools_data(paths[-1:], "framework_op_stats", {})
    if not ok:
        return []
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    rows = [dict(zip(columns, [cell.get("v") for cell in row["c"]], strict=False))
            for row in table["rows"]]
    # the profiler's IDLE rows are threads waiting: reported apart, not as an op
    idle = sum(float(row["total_self_time"]) for row in rows if row["type"] == "IDLE")
    rows = [row for row in rows if row["type"] != "IDLE"]
    total = sum(float(row["total_self_time"]) for row in rows) or 1.0
    by_type: dict[str, float] = {}
    for row in rows:
        by_type[row["type"]] = by_type.get(row["type"], 0.0) + float(row["total_self_time"])
    top_types = sorted(by_type.items(), key=lambda item: -item[1])[:count]
    top_ops = sorted(rows, key=lambda row: -float(row["total_self_time"]))[:count]
    return [
        {"type": "IDLE (threads waiting, share of busy + idle)",
         "self_time_share": round(idle / (idle + total), 4)},
        *[{"type": kind, "self_time_share": round(t / total, 4)} for kind, t in top_types],
        *[{"op": row["operation"], "type": row["type"],
           "self_time_share": round(float(row["total_self_time"]) / total, 4)}
          for row in top_ops],
    ]


def measure(name: str, xla: bool, precision: str, steps: int, warmup: int, windows: int,
            inference_batch: int, workdir: str, profile_steps: int = 0) -> dict[str, Any]:
    """Train configuration ``name`` for one epoch of ``1 + warmup + steps`` batches through
    ``tfgan_apps.train()`` and return the figures described in the module docstring; with
    ``profile_steps``, that many more steps run under ``tf.profiler`` after the timed ones
    and ``top_operations`` says where their time went."""
    import keras
    import numpy as np
    import tensorflow as tf

    import tfgan_apps
    from tfgan_apps import TrainConfig
    from tfgan_apps.apps import get_application

    settings = dict(CONFIGS[name]["settings"])
    if settings.get("aligned_dir") == "<aligned>":
        settings["aligned_dir"] = _aligned_folder(os.path.join(workdir, "aligned"),
                                                  settings["image_size"])
    run_dir = os.path.join(workdir, "run")
    total_steps = 1 + warmup + steps + profile_steps
    profile_dir = os.path.join(workdir, "profile")
    config = TrainConfig.create(**settings, epochs=1, steps_per_epoch=total_steps, xla=xla,
                                precision=precision, output=run_dir, seed=0)
    batch = settings["batch_size"]

    class StepTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []
            self.start = 0.0

        def on_train_batch_begin(self, batch_index: int, logs: Any = None) -> None:
            if batch_index == 0:
                self.start = time.perf_counter()
            if profile_steps and batch_index == 1 + warmup + steps:
                tf.profiler.experimental.start(profile_dir)

        def on_train_batch_end(self, batch_index: int, logs: Any = None) -> None:
            # reading a value waits for the step, whatever Keras does asynchronously
            float(next(iter((logs or {}).values()), 0.0))
            self.ends.append(time.perf_counter())
            if batch_index + 1 == 1 + warmup + steps:
                self.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if profile_steps and batch_index + 1 == total_steps:
                tf.profiler.experimental.stop()

    timer = StepTimer()
    result = tfgan_apps.train(config, callbacks=[timer], verbose=0)
    step_times = np.diff([timer.start, *timer.ends])
    timed = step_times[1 + warmup:1 + warmup + steps]
    per_window = max(1, len(timed) // windows)
    window_rates = [batch * per_window / float(np.sum(timed[i:i + per_window]))
                    for i in range(0, per_window * (len(timed) // per_window), per_window)]

    application = get_application(config.app)
    resolved = application.resolve(config)
    model = result.model
    data = application.datasets(resolved)
    first = next(iter(data.train))
    graph = tf.function(model.train_step).get_concrete_function(first).graph
    flops = count_flops(graph)

    count, begin = 0, time.perf_counter()
    iterator = iter(data.train.repeat())
    while time.perf_counter() - begin < 5.0:
        element = next(iterator)
        count += int(tf.nest.flatten(element)[0].shape[0])
    data_rate = count / (time.perf_counter() - begin)

    export_dir = tfgan_apps.export_saved_model(model, os.path.join(workdir, "saved_models"))
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    image_size = int(tf.nest.flatten(first)[0].shape[1])
    request = _serving_inputs(serving, inference_batch, image_size)
    serving(**request)  # first call: tracing
    times = []
    for _ in range(5):
        begin = time.perf_counter()
        serving(**request)
        times.append(time.perf_counter() - begin)

    median_step = float(np.median(timed))
    profile = {"profiled_steps": profile_steps,
               "top_operations": top_operations(profile_dir)} if profile_steps else {}
    return {
        "config": name, "xla": "on" if xla else "off", "precision": precision,
        "images_per_second": round(float(np.median(window_rates)), 4),
        "images_per_second_mean": round(batch * len(timed) / float(np.sum(timed)), 4),
        "step_s_median": round(median_step, 5),
        "batch": batch, "timed_steps": int(len(timed)), "windows": len(window_rates),
        "warmup_steps": warmup, "trace_s": round(float(step_times[0]), 2),
        "peak_rss_mb": round(timer.rss, 1),
        "flops_per_step": flops,
        "gflops_per_s": round(flops / median_step / 1e9, 2),
        "inference_images_per_second": round(inference_batch / statistics.median(times), 3),
        "inference_batch": inference_batch,
        "data_images_per_second": round(data_rate, 1),
        "jit_compile": bool(model.jit_compile),
        "command": "tfgan-apps train " + shlex.join(cli_flags(config)),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "cpus": os.cpu_count(),
        **profile,
    }


def cli_flags(config: Any) -> list[str]:
    """The ``tfgan-apps train`` arguments of a benchmark TrainConfig (the JSON ``command``)."""
    flags = [config.app] + (["--preset", config.preset] if config.preset != "default" else [])
    for key in ("image_size", "batch_size", "steps_per_epoch", "epochs", "precision"):
        if getattr(config, key) is not None:
            flags += [f"--{key.replace('_', '-')}", str(getattr(config, key))]
    flags.append("--xla" if config.xla else "--no-xla")
    options = config.options
    if getattr(options, "channels", None) is not None:
        flags += ["--channels", str(options.channels)]
    if getattr(options, "num_residual_blocks", None) is not None:
        flags += ["--residual-blocks", str(options.num_residual_blocks)]
    if getattr(options, "generator_noise", "fresh") != "fresh":
        flags += ["--generator-noise", options.generator_noise]
    if getattr(options, "aligned_dir", None):
        flags += ["--aligned-dir", "ALIGNED_DIR"]
    return flags


# ------------------------------------------------------------------------------- the peers
def peers_home() -> str:
    """``$PEERS_HOME`` (default ``~/peers``): the peers' interpreters and checkouts."""
    return os.environ.get("PEERS_HOME", os.path.expanduser("~/peers"))


def peer_command(peers_dir: str, kind: str, script: str, args: Sequence[str]) -> list[str]:
    """The command of one peer harness run (interpreters as in the harnesses' run_all.sh;
    the TensorFlow peers fall back to this interpreter, the same TF and Keras releases)."""
    home = peers_home()
    if kind == "torch":
        python = os.environ.get("TORCH_PY", os.path.join(home, "torchenv", "bin", "python"))
    else:
        python = os.environ.get("TF_PY", os.path.join(home, "tfenv", "bin", "python"))
        if not os.path.exists(python):
            python = sys.executable
    return [python, os.path.join(peers_dir, script), *args]


def peer_environment() -> dict[str, str]:
    home = peers_home()
    src = os.environ.get("PEER_SRC", os.path.join(home, "src"))
    env = dict(os.environ)
    defaults = {"JUNYANZ_REPO": "pytorch-CycleGAN-and-pix2pix",
                "PT_EXAMPLES_REPO": "pytorch-examples", "TF_DOCS_REPO": "tf-docs",
                "TF_EXAMPLES_REPO": "tf-examples", "KERAS_IO_REPO": "keras-io"}
    for key, folder in defaults.items():
        env.setdefault(key, os.path.join(src, folder))
    env.setdefault("PEER_EXTRA_PATH", os.path.join(home, "tb_overlay"))
    env.pop("BENCH_OUT", None)  # the records are printed here, not appended elsewhere
    return env


def _run(command: list[str], env: dict[str, str] | None, marker: str) -> dict[str, Any]:
    """Run one measuring process; its last line starting with ``marker`` is its record."""
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(marker)]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"failed": shlex.join(command), "returncode": done.returncode, "tail": tail}
    return json.loads(lines[-1][len(marker):] if marker != "{" else lines[-1])


def ours_command(name: str, xla: bool, precision: str, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, os.path.abspath(__file__), "--config", name,
               "--xla", "on" if xla else "off", "--precision", precision,
               "--warmup", str(args.warmup), "--windows", str(args.windows)]
    if args.inference_batch:
        command += ["--inference-batch", str(args.inference_batch)]
    if args.steps:
        command += ["--steps", str(args.steps)]
    return command


def side_by_side(name: str, xla: bool, precision: str, args: argparse.Namespace) -> None:
    """Ours then each matching peer, ``args.pairs`` rounds (ours-peer-ours-peer; with two
    peers ours-A-B-ours-A-B), one process each; one line per run and one per pair with the
    ratio of images/s (ours / that peer, from each run's median step time)."""
    env = peer_environment()
    peers = CONFIGS[name]["peers"]
    ratios: dict[str, list[float]] = {label: [] for label in peers}
    for pair in range(1, args.pairs + 1):
        ours = _run(ours_command(name, xla, precision, args), None, "{")
        _emit({"role": "ours", "pair": pair, **ours})
        for label, (kind, script, peer_args) in peers.items():
            flops = ["--flops"] if pair == 1 else []  # counted once, after its timed steps
            command = peer_command(args.peers, kind, script, [*peer_args, *flops,
                                                             "--warmup", str(args.warmup)])
            peer = _run(command, env, "RESULT ")
            _emit({"role": "peer", "config": name, "peer": label, "pair": pair, **peer})
            if "failed" in ours or "failed" in peer:
                continue
            ours_rate = ours["batch"] / ours["step_s_median"]
            peer_rate = peer["batch"] / peer["step_s_median"]
            ratios[label].append(ours_rate / peer_rate)
            _emit({"role": "ratio", "config": name, "peer": label, "pair": pair,
                   "xla": ours["xla"], "precision": precision,
                   "ours_images_per_second": round(ours_rate, 4),
                   "peer_images_per_second": round(peer_rate, 4),
                   "ratio": round(ours_rate / peer_rate, 3),
                   "ours_peak_rss_mb": ours["peak_rss_mb"],
                   "peer_peak_rss_mb": round(peer["peak_rss_mib"], 1),
                   "ours_flops_per_step": ours["flops_per_step"],
                   "peer_flops_per_step": peer.get("flops_per_step")})
    for label, values in ratios.items():
        if values:
            _emit({"role": "summary", "config": name, "peer": label,
                   "xla": "on" if xla else "off", "precision": precision,
                   "pairs": len(values), "ratio_median": round(statistics.median(values), 3),
                   "ratios": [round(r, 3) for r in values]})


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS),
                        help="one configuration (default: all)")
    parser.add_argument("--xla", choices=("on", "off"), help="default: both")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, help="default: all three")
    parser.add_argument("--steps", type=int, help="timed steps (default: per configuration)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps after the first (tracing) one")
    parser.add_argument("--windows", type=int, default=5, help="timed windows (median)")
    parser.add_argument("--inference-batch", type=int, default=None,
                        help="serving_default batch (default: the training batch)")
    parser.add_argument("--peers", metavar="DIR",
                        help="the peer harness folder: alternate ours and the peers")
    parser.add_argument("--pairs", type=int, default=2, help="ours-peer pairs per peer")
    parser.add_argument("--workdir", help="where runs are written (default: a temporary one)")
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="after the timed steps, trace STEPS more with tf.profiler and "
                        "report the top ops by self time (one configuration)")
    args = parser.parse_args(argv)

    names = [args.config] if args.config else list(CONFIGS)
    xlas = [args.xla == "on"] if args.xla else [False, True]
    precisions = [args.precision] if args.precision else list(PRECISION_CHOICES)
    combos = [(n, x, p) for n in names for x in xlas for p in precisions]
    if args.peers:
        for combo in combos:
            if CONFIGS[combo[0]]["peers"]:  # the applications' default rows have none
                side_by_side(*combo, args)
        return
    if len(combos) > 1:  # one process each: peak RSS and tracing per measurement
        for name, xla, precision in combos:
            _emit(_run(ours_command(name, xla, precision, args), None, "{"))
        return
    name, xla, precision = combos[0]
    steps = args.steps or DEFAULT_STEPS[name]
    batch = CONFIGS[name]["settings"]["batch_size"]
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        record = measure(name, xla, precision, steps, args.warmup, args.windows,
                         args.inference_batch or batch, workdir, args.profile)
    _emit(record)


if __name__ == "__main__":
    main()
