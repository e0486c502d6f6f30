"""A run's report: one static HTML page to look at (``tfgan-apps report RUN_DIR``).

:func:`write_report` writes ``RUN_DIR/report.html`` (atomically) from the files of a run
directory (see :mod:`tfgan_apps.runs`):

- the application and its options, from ``config.json``: the run settings, the application's
  options, what was resolved from the data and the environment, and every resume (when, from
  which epoch, what changed);
- the final metrics: ``evaluation.json`` where the application writes one (pix2pix's per-class
  IoU and confusion matrix), and the last epoch's logs from ``history.json``;
- the loss and metric curves: ``loss_curves.png``, or, when it is missing, a plot of
  ``history.json`` drawn with :func:`tfgan_apps.visualize.plot_curves`;
- the sample grid of every epoch (``samples/epoch_NNNN.png``) in epoch order, each captioned
  with its epoch, side by side so the progress of training is seen at a glance.

The page is static and self-contained: no script, no network, no external CSS. A
``Content-Security-Policy`` in the page forbids any request except its own images. Images are
inlined as ``data:image/png;base64`` URLs, except the sample grids of large runs: when the
grids together exceed :data:`INLINE_SAMPLES_LIMIT` bytes (the 274 x 104 grids of a 32-pixel
pix2pix run are 23 KB each: about 700 epochs), they are linked by their path relative to the
run directory (``samples/...``) instead, so the page stays small and still shows them wherever
the run directory is copied to (not when ``report.html`` alone is copied). All text from the
run's files is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from tfgan_apps.atomic import write_with
from tfgan_apps.errors import UserError, UserPathError
from tfgan_apps.runs import RunDirectory
from tfgan_apps.visualize import plot_curves

#: the report's file name inside the run directory
REPORT_NAME = "report.html"

#: total bytes of sample grids inlined into the page; above it the grids are linked instead
INLINE_SAMPLES_LIMIT = 16 * 2**20

_GRID_NAME = re.compile(r"^epoch_(\d+)\.png$")

#: keys of config.json that are not run settings (shown in their own tables)
_RECORD_KEYS = ("options", "resolved", "resumes")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.5em; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
.meta { color: #555; margin-top: 0; }
.columns { display: flex; flex-wrap: wrap; gap: 0 3em; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.15em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
table table { font-size: 1em; }
.curves img { max-width: 100%; }
.grids { display: flex; flex-wrap: wrap; gap: 0.8em; }
.grids figure { margin: 0; text-align: center; }
.grids img { min-height: 260px; max-height: 520px; width: auto; image-rendering: pixelated;
             border: 1px solid #ddd; }
.grids figcaption { font-size: 0.85em; color: #444; }
.none { color: #777; font-style: italic; }
"""

_CSP = "default-src 'none'; img-src data: file: 'self'; style-src 'unsafe-inline'"


def sample_grids(samples_dir: str) -> list[tuple[int, str]]:
    """The sample grids of a run, ``[(epoch, path)]`` in epoch order (``epoch_NNNN.png``;
    temporary files of interrupted writes are not grids)."""
    if not os.path.isdir(samples_dir):
        return []
    found = []
    for name in os.listdir(samples_dir):
        match = _GRID_NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(samples_dir, name)))
    return sorted(found)


def _read_json(path: str, what: str) -> Any:
    """The JSON in ``path``, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable {what} ({error}); re-run the training "
                        "into this directory to rebuild it") from None


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _curve_groups(history: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    """Panels for a history without the application's own grouping: training losses,
    validation figures, the other training figures."""
    groups: dict[str, list[str]] = {"losses": [], "validation": [], "metrics": []}
    for name in sorted(history):
        if name == "learning_rate":
            continue  # another scale; the last value is in the last epoch's table
        if name.startswith("val_"):
            groups["validation"].append(name)
        elif name.endswith("loss"):
            groups["losses"].append(name)
        else:
            groups["metrics"].append(name)
    return {title: names for title, names in groups.items() if names}


def _curves_png(run: RunDirectory, history: Mapping[str, Sequence[Any]] | None) -> bytes | None:
    """The run's ``loss_curves.png``, or one drawn from ``history`` when it is missing."""
    if os.path.isfile(run.curves_path):
        return _read_bytes(run.curves_path)
    groups = _curve_groups(history or {})
    if not groups:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        return _read_bytes(plot_curves(history, os.path.join(scratch, "curves.png"), groups))


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    """A ``<td>`` for a value of the run's JSON files (nested dicts and matrices as tables)."""
    if isinstance(value, Mapping):
        return f"<td>{_table(value)}</td>" if value else '<td class="none">none</td>'
    if (isinstance(value, list) and value and all(isinstance(row, list) for row in value)
            and all(_is_number(v) for row in value for v in row)):
        return f"<td>{_matrix(value)}</td>"
    if isinstance(value, list):
        return f"<td>{html.escape(', '.join(_format(v) for v in value))}</td>"
    kind = ' class="number"' if _is_number(value) else ""
    return f"<td{kind}>{html.escape(_format(value))}</td>"


def _table(rows: Mapping[str, Any]) -> str:
    """A two-column table: name, value."""
    body = "".join(f"<tr><th>{html.escape(str(name))}</th>{_cell(value)}</tr>"
                   for name, value in rows.items())
    return f"<table>{body}</table>"


def _matrix(rows: Sequence[Sequence[Any]], labels: Sequence[str] | None = None,
            corner: str = "") -> str:
    """A matrix as a table, rows and columns labelled with ``labels`` when given."""
    head = ""
    if labels:
        head = "<tr>" + f"<th>{html.escape(corner)}</th>" + "".join(
            f"<th>{html.escape(str(label))}</th>" for label in labels) + "</tr>"
    body = "".join(
        "<tr>" + (f"<th>{html.escape(str(labels[i]))}</th>" if labels else "")
        + "".join(_cell(v) for v in row) + "</tr>" for i, row in enumerate(rows))
    return f"<table>{head}{body}</table>"


def _evaluation_html(evaluation: Mapping[str, Any]) -> str:
    """``evaluation.json``: its figures, and a confusion matrix labelled by class names."""
    rest = dict(evaluation)
    names = rest.pop("class_names", None)
    confusion = rest.pop("confusion_matrix", None)
    parts = [_table(rest)]
    if confusion is not None:
        labelled = (isinstance(names, list) and isinstance(confusion, list)
                    and len(names) == len(confusion))
        parts.append("<h3>Confusion matrix (rows: true class, columns: predicted)</h3>")
        parts.append(_matrix(confusion, names if labelled else None, "true \\ predicted")
                     if isinstance(confusion, list) else _table({"confusion_matrix": confusion}))
    elif names is not None:
        parts.append(_table({"class_names": names}))
    return "".join(parts)


def _resumes_html(resumes: Sequence[Mapping[str, Any]]) -> str:
    if not resumes:
        return '<p class="none">none: trained in one go</p>'
    rows = []
    for resume in resumes:
        changed = resume.get("changed") or {}
        shown = "; ".join(
            f"{name}: {_format(change[0])} \u2192 {_format(change[1])}"
            if isinstance(change, list) and len(change) == 2 else f"{name}: {_format(change)}"
            for name, change in changed.items()) or "nothing"
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            resume.get("at", ""), resume.get("from_epoch", ""), resume.get("from_batch", ""),
            shown)) + "</tr>")
    head = "<tr><th>at</th><th>from epoch</th><th>from batch</th><th>changed</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _samples_html(run: RunDirectory, inline_limit: int) -> tuple[str, bool]:
    """The figures of every sample grid, and whether they are inlined."""
    grids = sample_grids(run.samples_dir)
    if not grids:
        return '<p class="none">no sample grids yet</p>', True
    inline = sum(os.path.getsize(path) for _, path in grids) <= inline_limit
    figures = []
    for epoch, path in grids:
        if inline:
            source = _data_url(_read_bytes(path))
        else:
            relative = os.path.relpath(path, run.path).replace(os.sep, "/")
            source = urllib.parse.quote(relative)
        figures.append(
            f'<figure><img src="{html.escape(source)}" alt="samples after epoch {epoch}">'
            f"<figcaption>epoch {epoch}</figcaption></figure>")
    return f'<div class="grids">{"".join(figures)}</div>', inline


def render_report(run_dir: str, inline_limit: int = INLINE_SAMPLES_LIMIT) -> str:
    """The HTML of the report of the run in ``run_dir`` (see :func:`write_report`)."""
    run = RunDirectory(run_dir)
    if not os.path.isdir(run_dir):
        what = "is a file, not a directory" if os.path.exists(run_dir) else "does not exist"
        raise UserPathError(f"run directory {run_dir} {what}; pass the output directory of a "
                            "training run")
    record = run.read_record()
    if record is None:
        raise UserPathError(f"{run_dir} is not a training run directory (it has no "
                            "config.json); pass the output directory of a training run")
    history = _read_json(run.history_path, "training history") or {}
    evaluation = _read_json(run.evaluation_path, "evaluation")

    app = str(record.get("app", "run"))
    name = os.path.basename(os.path.normpath(run_dir))
    epochs_done = max((len(values) for values in history.values()), default=0)
    settings = {k: v for k, v in record.items() if k not in _RECORD_KEYS}
    resolved = record.get("resolved") or {}
    title = f"{app} run {name}"

    last = {k: v[-1] for k, v in sorted(history.items()) if v}
    metrics = []
    if evaluation is not None:
        metrics.append(f"<h3>Evaluation ({html.escape(str(evaluation.get('split', 'final')))}"
                       f")</h3>{_evaluation_html(evaluation)}")
    if last:
        metrics.append(f"<h3>Last epoch ({epochs_done})</h3>{_table(last)}")
    if not metrics:
        metrics.append('<p class="none">no finished epoch yet</p>')

    curves = _curves_png(run, history)
    curves_html = (f'<div class="curves"><img src="{_data_url(curves)}" '
                   'alt="loss and metric curves"></div>' if curves is not None
                   else '<p class="none">no history yet</p>')
    samples, inlined = _samples_html(run, inline_limit)
    samples_note = "" if inlined else (
        '<p class="meta">The grids are linked from the run directory\'s samples/ folder '
        "(too large to inline): keep report.html inside the run directory.</p>")

    written = datetime.datetime.now().isoformat(timespec="seconds")
    model_class = resolved.get("model_class", app) if isinstance(resolved, Mapping) else app
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(str(model_class))}, {epochs_done} epoch(s) done; '
        f"run directory {html.escape(os.path.abspath(run_dir))}; report written {written}</p>",
        '<div class="columns"><section id="options"><h2>Options</h2>',
        f"<h3>Run settings (as first trained; changes under Resumes)</h3>{_table(settings)}",
        f"<h3>{html.escape(app)} options</h3>{_table(record.get('options') or {})}",
        "</section><section>",
        f'<section id="metrics"><h2>Final metrics</h2>{"".join(metrics)}</section>',
        f'<section id="resolved"><h2>Resolved</h2>{_table(resolved)}</section>',
        f'<section id="resumes"><h2>Resumes</h2>{_resumes_html(record.get("resumes") or [])}'
        "</section></section></div>",
        f'<section id="curves"><h2>Curves</h2>{curves_html}</section>',
        f'<section id="samples"><h2>Samples by epoch</h2>{samples_note}{samples}</section>',
        "</body></html>",
        "",
    ])


def write_report(run_dir: str, inline_limit: int = INLINE_SAMPLES_LIMIT) -> str:
    """Write ``RUN_DIR/report.html``, the run's static, self-contained report page.

    Args:
        run_dir: a training run directory (the ``output`` of a run; it must hold
            ``config.json``, the first file a run writes).
        inline_limit: the most bytes of sample grids inlined into the page; above it they are
            linked by relative path (``samples/epoch_NNNN.png``) instead (see the module
            docstring).

    Returns:
        The path of ``report.html``.

    Raises:
        UserPathError: ``run_dir`` does not exist or is not a run directory.
        UserError: a file of the run is not readable JSON, or the disk refuses the write.
    """
    page = render_report(run_dir, inline_limit)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)

    return write_with(os.path.join(run_dir, REPORT_NAME), write, "run report")
