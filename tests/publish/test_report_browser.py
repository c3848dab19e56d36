"""The report in a real browser: headless Chromium loads every kind of page from file://.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (messages
separated by NUL bytes on file descriptors 3 and 4), so no websocket library is needed. Each
page must load with no console message, no exception, no failed request and no request
other than the page itself; charts must be present with text alternatives. Screenshots of
the home page and of one card are kept in ``test-artifacts/``. Skipped when
``/usr/bin/chromium`` is absent (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.publish.report import build_report

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)


def _synthetic() -> Any:
    """``synthetic_edition`` from benchmarks/report_build.py (one generator for both)."""
    spec = importlib.util.spec_from_file_location(
        "report_build_bench", ROOT / "benchmarks" / "report_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_edition


class Browser:
    """A minimal DevTools client over Chromium's debugging pipe."""

    def __init__(self) -> None:
        ours_read, chrome_write = os.pipe()
        chrome_read, ours_write = os.pipe()
        # Chromium's helpers may still write into the profile after the browser exits.
        self.profile = tempfile.TemporaryDirectory(
            prefix="wo-browser-test-", ignore_cleanup_errors=True
        )

        def wire() -> None:  # in the child: fd 3 = commands in, fd 4 = answers out
            os.dup2(chrome_read, 3)
            os.dup2(chrome_write, 4)

        self.process = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=wire,  # only dup2 calls, before exec
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(chrome_read)
        os.close(chrome_write)
        self.read_fd, self.write_fd = ours_read, ours_write
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive(30)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self.events.append(answer)

    def load(self, url: str) -> list[dict[str, Any]]:
        """Navigate and wait for the load event; returns the events seen meanwhile."""
        self.events = []
        self.call("Page.navigate", session=True, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._receive(30))
        return self.events

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def screenshot(self, file: Path) -> None:
        metrics = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={
                "x": 0,
                "y": 0,
                "width": 1280,
                "height": min(metrics["height"], 4000),
                "scale": 1,
            },
        )
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.read_fd)
        os.close(self.write_fd)
        self.profile.cleanup()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    client = Browser()
    yield client
    client.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    _synthetic()(root / "kb", indicators=24, years=8, seed=3)
    build_report(root / "kb", None, root / "site")
    return root / "site"


PROBLEMS = """(() => {
  const unnamed = [...document.querySelectorAll('svg')].filter(s =>
      !(s.getAttribute('aria-label') || s.getAttribute('aria-labelledby'))
      || s.getAttribute('role') !== 'img' || !s.querySelector('title'));
  const noAlt = [...document.querySelectorAll('img')].filter(i => !i.hasAttribute('alt'));
  const anchors = [...document.querySelectorAll('a[href^="#"]')]
      .map(a => a.getAttribute('href').slice(1))
      .filter(id => id && !document.getElementById(id));
  return {svgs: document.querySelectorAll('svg').length, unnamed: unnamed.length,
          noAlt: noAlt.length, brokenAnchors: anchors, title: document.title,
          height: document.body.scrollHeight};
})()"""


def _first(folder: Path, pattern: str) -> str:
    return sorted(p.name for p in folder.glob(pattern) if p.name != "index.html")[0]


def _check(browser: Browser, page: Path) -> dict[str, Any]:
    url = page.resolve().as_uri()
    events = browser.load(url)
    requests = [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [url], f"{page.name} made other requests: {requests}"
    failed = [e for e in events if e.get("method") == "Network.loadingFailed"]
    console = [
        e["params"]
        for e in events
        if e.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown")
        or (
            e.get("method") == "Log.entryAdded"
            and e["params"]["entry"]["level"] in ("error", "warning")
        )
    ]
    assert not failed and not console, f"{page.name}: {failed or console}"
    found: dict[str, Any] = browser.evaluate(PROBLEMS)
    assert found["unnamed"] == 0 and found["noAlt"] == 0, f"{page.name}: {found}"
    assert found["brokenAnchors"] == [], f"{page.name}: {found['brokenAnchors']}"
    assert found["title"] and found["height"] > 300
    return found


def test_every_kind_of_page_renders_cleanly_in_chromium(browser: Browser, site: Path) -> None:
    card = _first(site / "indicators", "*.html")
    pages = {
        "home": site / "index.html",
        "indicators": site / "indicators" / "index.html",
        "card": site / "indicators" / card,
        "domain": site / "domains" / _first(site / "domains", "*.html"),
        "territories": site / "territories" / "index.html",
        "municipality": site / "territories" / _first(site / "territories", "0*.html"),
        "district": site / "territories" / _first(site / "territories", "district_*.html"),
        "composite": site / "composite.html",
        "deepdive": site / "deepdive.html",
        "print": site / "print.html",
    }
    found = {name: _check(browser, page) for name, page in pages.items()}
    assert found["home"]["svgs"] >= 1  # progress at a glance, one bar per domain and goal
    assert found["card"]["svgs"] >= 1
    assert found["municipality"]["svgs"] >= 10  # one sparkline per indicator with a series
    assert found["composite"]["svgs"] >= 1
    assert found["print"]["svgs"] > found["card"]["svgs"]


def test_screenshots_of_the_home_page_and_a_card(browser: Browser, site: Path) -> None:
    browser.load((site / "index.html").resolve().as_uri())
    browser.screenshot(ARTIFACTS / "report-home.png")
    card = site / "indicators" / _first(site / "indicators", "*.html")
    browser.load(card.resolve().as_uri())
    browser.screenshot(ARTIFACTS / "report-card.png")
    for name in ("report-home.png", "report-card.png"):
        data = (ARTIFACTS / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_the_report_prints_to_one_pdf(tmp_path: Path) -> None:
    _synthetic()(tmp_path / "kb", indicators=6, years=5, seed=5)
    result = build_report(tmp_path / "kb", None, tmp_path / "site", pdf=True, lang="en")
    assert result.pdf is not None
    data = result.pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") > 10


MAP_FACTS = """(() => {
  const maps = [...document.querySelectorAll('figure.map')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg.getBoundingClientRect();
    return {areas: svg.querySelectorAll('path[fill]').length,
            hatched: svg.querySelectorAll('path[fill^="url(#"]').length,
            legend: f.querySelectorAll('.map-legend li').length,
            rows: f.querySelectorAll('details.map-data tbody tr').length,
            width: box.width, height: box.height,
            label: svg.getAttribute('aria-labelledby').split(' ')
                      .map(id => document.getElementById(id).textContent).join(' | ')};
  });
  return maps;
})()"""


def test_maps_render_in_chromium_and_are_looked_at(browser: Browser, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "report_maps_test", Path(__file__).with_name("test_report_maps.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_edition(tmp_path / "kb")
    build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    page = tmp_path / "site" / "indicators" / "SHARE_65_PLUS.html"
    _check(browser, page)
    municipal, provinces = browser.evaluate(MAP_FACTS)
    assert municipal["areas"] >= 74 and provinces["areas"] >= 107
    assert municipal["hatched"] == 1 and provinces["hatched"] == 1  # one confidential each
    assert municipal["width"] > 300 and provinces["height"] > 300  # drawn, not collapsed
    assert municipal["legend"] >= 4 and municipal["rows"] == 74 and provinces["rows"] == 107
    assert "municipalities, 2023" in municipal["label"] and "areas" in municipal["label"]
    browser.screenshot(ARTIFACTS / "report-map.png")
    overview = tmp_path / "site" / "territories" / "index.html"
    _check(browser, overview)
    assert len(browser.evaluate(MAP_FACTS)) == 2
    assert (ARTIFACTS / "report-map.png").stat().st_size > 20_000
