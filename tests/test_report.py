"""``tfgan-apps report``: the page's content (escaped options, resumes, metrics, curves, every
epoch's grid in order), its errors, and the page in a real headless Chromium (it loads without
console errors, every image decodes, a screenshot is written).

The browser is Debian's ``chromium``, driven through the Chrome DevTools protocol over
``--remote-debugging-pipe`` (JSON messages on file descriptors 3 and 4): no driver, no
WebSocket client, no port, nothing to download. Without ``/usr/bin/chromium`` the browser tests
fail (not skip) and say how to install it; ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import html.parser
import io
import json
import os
import select
import shutil
import struct
import subprocess
import time
import urllib.parse
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tfgan_apps import TrainConfig, UserError, get_application, train
from tfgan_apps.cli import main
from tfgan_apps.report import REPORT_NAME, sample_grids, write_report

CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = ("Debian's chromium is needed for the report's browser tests: install it with "
                "`sudo apt-get install -y chromium chromium-driver` (.ci/run does this)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A directory name that needs escaping in HTML text and attributes (config.json's "output").
ODD_NAME = 'dc <&> "run"'


# ------------------------------------------------------------------------------ runs
def _dcgan(output: str, epochs: int) -> TrainConfig:
    return get_application("dcgan").resolve(TrainConfig.create(
        "dcgan", dataset="builtin", image_size=16, channels=1, batch_size=8, epochs=epochs,
        steps_per_epoch=2, latent_dim=8, base_filters=8, xla=False, output=output))


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory) -> str:
    """A tiny 3-epoch DCGAN run: 2 epochs, then resumed for a third (a ``resumes`` entry)."""
    run_dir = str(tmp_path_factory.mktemp("dcgan") / ODD_NAME)
    train(_dcgan(run_dir, epochs=2), verbose=0)
    train(_dcgan(run_dir, epochs=3), verbose=0)
    return run_dir


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory) -> str:
    """A tiny 2-epoch pix2pix run on the built-in segmentation data (it has evaluation.json)."""
    run_dir = str(tmp_path_factory.mktemp("pix2pix") / "run")
    train(get_application("pix2pix").resolve(TrainConfig.create(
        "pix2pix", image_size=32, batch_size=4, epochs=2, steps_per_epoch=2, base_filters=4,
        xla=False, output=run_dir)), verbose=0)
    return run_dir


@pytest.fixture
def dcgan_copy(dcgan_run, tmp_path) -> str:
    target = str(tmp_path / os.path.basename(dcgan_run))
    shutil.copytree(dcgan_run, target)
    return target


class _Page(html.parser.HTMLParser):
    """The images (``src``, ``alt``), figure captions and text of a report."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.captions: list[str] = []
        self.text: list[str] = []
        self._in_caption = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})
        self._in_caption = tag == "figcaption"

    def handle_endtag(self, tag: str) -> None:
        self._in_caption = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_caption:
            self.captions.append(data)


def _decoded(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return base64.b64decode(src[len(prefix):])


def _report(run_dir: str, **kwargs: Any) -> tuple[str, _Page]:
    path = write_report(run_dir, **kwargs)
    assert path == os.path.join(run_dir, REPORT_NAME)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text, _Page(text)


# --------------------------------------------------------------------------- content
def test_report_shows_options_resumes_metrics_curves_and_every_grid_in_order(
        dcgan_run, capsys):
    assert main(["report", dcgan_run]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {os.path.join(dcgan_run, REPORT_NAME)}"
    with open(os.path.join(dcgan_run, REPORT_NAME), encoding="utf-8") as f:
        text = f.read()
    page = _Page(text)

    # Self-contained and static: no script, no address of anything outside the page.
    assert "<script" not in text and "http:" not in text and "https:" not in text
    # Text from the run's files is escaped: the output directory's name is shown, never raw.
    assert 'dc &lt;&amp;&gt; &quot;run&quot;' in text and ODD_NAME not in text
    shown = "".join(page.text)
    assert ODD_NAME in shown  # as the browser shows it
    # The options, and the resume that asked for a third epoch.
    for expected in ("latent_dim", "base_filters", "non_saturating", "builtin", "DCGAN",
                     "epochs: 2 \u2192 3"):
        assert expected in shown, expected

    # The last epoch's logs.
    with open(os.path.join(dcgan_run, "history.json")) as f:
        history = json.load(f)
    assert "Last epoch (3)" in shown
    assert f"{history['g_loss'][-1]:.6g}" in shown and f"{history['d_loss'][-1]:.6g}" in shown

    # The curves, then one grid per epoch in order, each the run's own PNG, captioned.
    curves, *grids = page.images
    with open(os.path.join(dcgan_run, "loss_curves.png"), "rb") as f:
        assert _decoded(curves["src"]) == f.read()
    on_disk = sample_grids(os.path.join(dcgan_run, "samples"))
    assert [epoch for epoch, _ in on_disk] == [1, 2, 3]
    assert page.captions == ["epoch 1", "epoch 2", "epoch 3"]
    assert [image["alt"] for image in grids] == [f"samples after epoch {e}" for e in (1, 2, 3)]
    for image, (_, path) in zip(grids, on_disk, strict=True):
        with open(path, "rb") as f:
            assert _decoded(image["src"]) == f.read()


def test_missing_curves_are_drawn_from_the_history(dcgan_copy):
    os.remove(os.path.join(dcgan_copy, "loss_curves.png"))
    _, page = _report(dcgan_copy)
    curves = Image.open(io.BytesIO(_decoded(page.images[0]["src"])))
    assert curves.format == "PNG" and curves.width > 300 and curves.height > 200
    assert not os.path.exists(os.path.join(dcgan_copy, "loss_curves.png"))  # the run is left as is
    assert len(page.images) == 4


def test_a_directory_that_is_not_a_run_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["report", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"tfgan-apps: error: {tmp_path} is not a training run directory (it has "
                     "no config.json); pass the output directory of a training run"]
    with pytest.raises(UserError, match="does not exist"):
        write_report(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="is a file, not a directory"):
        write_report(str(tmp_path / "notes.txt"))
    assert not (tmp_path / REPORT_NAME).exists()


@pytest.mark.slow
def test_pix2pix_report_shows_the_evaluation(pix2pix_run):
    text, page = _report(pix2pix_run)
    with open(os.path.join(pix2pix_run, "evaluation.json")) as f:
        evaluation = json.load(f)
    shown = "".join(page.text)
    assert "Evaluation (validation)" in shown
    assert f"{evaluation['mean_iou']:.6g}" in shown
    for name, value in evaluation["per_class_iou"].items():
        assert name in shown and f"{value:.6g}" in shown
    # the confusion matrix labelled by class on both axes
    assert "Confusion matrix (rows: true class, columns: predicted)" in shown
    assert "<th>true \\ predicted</th><th>background</th><th>disc</th>" in text
    assert str(evaluation["confusion_matrix"][0][0]) in shown
    assert page.captions == ["epoch 1", "epoch 2"]


def test_large_runs_link_their_grids_by_relative_path(dcgan_copy):
    text, page = _report(dcgan_copy, inline_limit=0)
    grids = page.images[1:]
    assert [image["src"] for image in grids] == [
        f"samples/epoch_{epoch:04d}.png" for epoch in (1, 2, 3)]
    assert page.images[0]["src"].startswith("data:image/png;base64,")  # the curves stay inline
    assert "keep report.html inside the run directory" in text


# --------------------------------------------------------------------------- browser
class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe.

    Chromium reads JSON commands on its file descriptor 3 and writes answers and events on 4,
    each message ending in a NUL byte (``--remote-debugging-pipe``).
    """

    def __init__(self, user_data_dir: str, log_path: str, width: int = 1280,
                 height: int = 900) -> None:
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def on_fds_3_and_4() -> None:
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in close())
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=on_fds_3_and_4, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)
        os.close(commands_read)
        os.close(answers_write)
        self.log_path = log_path
        self.size = (width, height)
        self._buffer = b""
        self._last_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def __enter__(self) -> Chromium:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        self.session = self.send("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True}, browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        width, height = self.size
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.send("Browser.close", browser=True, timeout=10)
                self.process.wait(timeout=20)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for fd in (self._commands, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()

    def _browser_log(self) -> str:
        self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def _receive(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        ready = select.select([self._answers], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            raise TimeoutError(f"chromium did not answer in time; its log:\n{self._browser_log()}")
        chunk = os.read(self._answers, 1 << 20)
        if not chunk:
            raise RuntimeError(f"chromium exited; its log:\n{self._browser_log()}")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        self.events.extend(json.loads(message) for message in messages)

    def send(self, method: str, params: dict[str, Any] | None = None, browser: bool = False,
             timeout: float = 60) -> dict[str, Any]:
        """Run one DevTools command (on the page, or with ``browser`` on the browser); returns
        its result."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for i, answer in enumerate(self.events):
                if answer.get("id") == self._last_id:
                    del self.events[i]
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]
            self._receive(deadline)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: str, timeout: float = 60) -> None:
        """Load the file ``path`` and wait until it and its images have loaded."""
        url = "file://" + os.path.abspath(path)
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        loaded = "document.readyState === 'complete' ? decodeURIComponent(document.URL) : ''"
        while self.evaluate(loaded) != url:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            time.sleep(0.1)

    def problems(self) -> list[str]:
        """The errors the page reported: console errors, uncaught exceptions, log entries
        (failed loads, CSP violations, ...), failed requests."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
            elif method == "Network.loadingFailed":
                found.append(f"request failed: {params.get('errorText')}")
        return found

    def requested_urls(self) -> list[str]:
        return [event["params"]["request"]["url"] for event in self.events
                if event.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: str) -> str:
        """A PNG of the whole page (not only the window) at ``path``."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return path


IMAGES_JS = """Promise.all(Array.from(document.images, async image => {
  let error = null;
  try { await image.decode(); } catch (e) { error = String(e); }
  return {alt: image.alt, complete: image.complete, naturalWidth: image.naturalWidth,
          naturalHeight: image.naturalHeight, error: error};
}))"""


@pytest.fixture(scope="session")
def chromium_installed() -> None:
    """Fails (never skips) without /usr/bin/chromium; session-scoped, so before any training."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found. {INSTALL_HINT}")


@pytest.fixture
def browser(chromium_installed, tmp_path):
    """A headless Chromium with a fresh profile in ``tmp_path``."""
    with Chromium(str(tmp_path / "chromium-profile"), str(tmp_path / "chromium.log")) as b:
        yield b


def _check_page(browser: Chromium, report: str, images: int) -> None:
    """The page loads without errors, asks for nothing outside itself and the run directory,
    and every one of its ``images`` has decoded."""
    browser.open(report)
    shown = browser.evaluate(IMAGES_JS)
    assert len(shown) == images
    for image in shown:
        assert image["complete"] and image["naturalWidth"] > 0 and image["error"] is None, image
    assert browser.problems() == []
    run_url = "file://" + os.path.dirname(os.path.abspath(report)) + "/"
    for url in browser.requested_urls():
        assert url.startswith("data:image/png;base64,") or urllib.parse.unquote(
            url).startswith(run_url), url[:100]


def _check_png(path: str, min_width: int, min_height: int) -> None:
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_width and height >= min_height, (width, height)
    assert len(data) > 20_000  # tables, curves and grids, not a blank page
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape == (height, width, 3)
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50 and picture.std() > 10


def test_dcgan_report_in_headless_chromium_and_its_screenshot(browser, dcgan_run, tmp_path):
    report = write_report(dcgan_run)
    _check_page(browser, report, images=1 + 3)
    # The grids shown bigger than their pixels, side by side, in epoch order.
    boxes = browser.evaluate("""Array.from(document.querySelectorAll('.grids figure'),
        f => [f.querySelector('figcaption').textContent, f.getBoundingClientRect().left,
              f.querySelector('img').getBoundingClientRect().height])""")
    assert [caption for caption, _, _ in boxes] == ["epoch 1", "epoch 2", "epoch 3"]
    assert boxes[0][1] < boxes[1][1] < boxes[2][1] and all(h >= 200 for _, _, h in boxes)
    _check_png(browser.screenshot(str(tmp_path / "dcgan_report.png")), 1000, 900)


@pytest.mark.slow
def test_pix2pix_report_in_headless_chromium_and_its_screenshot(browser, pix2pix_run,
                                                                 tmp_path):
    report = write_report(pix2pix_run)
    _check_page(browser, report, images=1 + 2)
    _check_png(browser.screenshot(str(tmp_path / "pix2pix_report.png")), 1000, 900)


def test_linked_grids_show_in_a_copy_of_the_run_directory(browser, dcgan_copy, tmp_path):
    write_report(dcgan_copy, inline_limit=0)
    moved = str(tmp_path / "elsewhere" / "copied run")
    shutil.copytree(dcgan_copy, moved)
    _check_page(browser, os.path.join(moved, REPORT_NAME), images=1 + 3)
