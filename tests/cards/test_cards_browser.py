"""Cards opened in a real headless Chromium (Debian's ``chromium``): the page shows every
component, the Vega chart draws, the DAG picture is there, and loading the page makes no network
request (every request Chromium makes goes through a recording proxy; a control page with
remote resources proves the proxy sees them)."""

from __future__ import annotations

import http.server
import importlib.util
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from flowc.cards import get_cards
from flowc.client import Task
from tests.runtime_shim.driver import drive, write_flow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JS = Path(__file__).with_name("js")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")

FLOW = """
    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import Markdown, Table, Image, ProgressBar, Error, Artifact, VegaChart

    PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e2d1f2f60000000049454e44ae426082")

    class BrowserFlow(FlowSpec):
        @card
        @step
        def start(self):
            self.score = 0.93
            current.card.append(Markdown("# Report\\nAll **good**."))
            current.card.append(Table([[1, "one"], [2, "two"]], headers=["n", "word"]))
            current.card.append(Image(PNG, label="a pixel"))
            current.card.append(Artifact({"lr": 0.1}, name="config"))
            current.card.append(ProgressBar(max=4, value=3, label="epochs"))
            current.card.append(Error(ValueError("shown only"), title="caught"))
            current.card.append(VegaChart({
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "data": {"values": [{"x": "a", "y": 3}, {"x": "b", "y": 7}, {"x": "c", "y": 5}]},
                "mark": "bar",
                "encoding": {"x": {"field": "x", "type": "nominal"}, "y": {"field": "y", "type": "quantitative"}}}))
            self.next(self.end)

        @step
        def end(self):
            pass
"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A proxy that records every request line and answers 502: nothing gets through."""

    seen: list[str] = []

    def _record(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def vega_js():
    if not (JS / "node_modules" / "vega-embed").is_dir():
        if shutil.which("npm") is None:
            pytest.skip("needs npm to install the card tests' Vega scripts (tests/cards/js)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True,
                       timeout=300)
    return str(JS / "node_modules")


# Chromium's own background traffic (sign-in, component updates, network time), which no page
# asks for; everything else a page load sends through the proxy counts.
_BROWSER_HOSTS = ("accounts.google.com", "update.googleapis.com", "clients2.google.com")


def _page_requests() -> list[str]:
    return [line for line in _Recorder.seen
            if not any(re.match(rf"^\w+ (https?://)?{re.escape(host)}[:/]", line) for host in _BROWSER_HOSTS)]


def _chromium(url: str, proxy_port: int, workdir: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-pings", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
            f"--user-data-dir={workdir / 'profile'}", f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=10000", "--window-size=1000,1600",
            *mode, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=workdir)


def test_card_draws_in_chromium_without_network(tmp_path, proxy, vega_js, monkeypatch):
    monkeypatch.setenv("FLOWC_VEGA_JS", vega_js)
    root = str(tmp_path / "ds")
    drive(write_flow(tmp_path, FLOW), root, run_id="r1")
    [card] = get_cards(Task("BrowserFlow/r1/start/t", root))
    url = "file://" + card.path
    _Recorder.seen.clear()
    dom = _chromium(url, proxy.server_port, tmp_path, "--dump-dom").stdout
    shot = tmp_path / "card.png"
    _chromium(url, proxy.server_port, tmp_path, f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert _page_requests() == []  # the page and its scripts asked the network for nothing

    assert "<h1>Report</h1>" in dom and "<strong>good</strong>" in dom
    assert "<th>word</th>" in dom and "<td>two</td>" in dom
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="a pixel">', dom)
    assert "config" in dom and "{'lr': 0.1}" in dom
    assert '<progress max="4" value="3">' in dom and "caught" in dom and "ValueError: shown only" in dom
    chart = re.search(r'<div class="vega-chart[^"]*" id="vega-chart-\d+"[^>]*data-drawn="1"[^>]*>(.*?)</div>',
                      dom, re.S)
    assert chart is not None, "the Vega chart did not draw"
    assert "<svg" in dom[chart.start():] and dom.count('role="graphics-symbol"') >= 3  # three bars
    assert 'class="step current" data-step="start"' in dom and 'data-step="end"' in dom


def test_the_proxy_does_see_a_page_that_fetches(tmp_path, proxy):
    page = tmp_path / "fetches.html"
    page.write_text('<html><body><img src="http://flowc-test.invalid/x.png">'
                    '<script src="http://cdn.flowc-test.invalid/x.js"></script></body></html>')
    _Recorder.seen.clear()
    _chromium("file://" + str(page), proxy.server_port, tmp_path, "--dump-dom")
    assert any("flowc-test.invalid/x.png" in line for line in _page_requests()), _Recorder.seen


TYPES_FLOW = """
    import pandas
    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import Markdown

    PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e2d1f2f60000000049454e44ae426082")

    class TypesFlow(FlowSpec):
        @card(type="html", id="html")
        @card(type="error", id="error")
        @card(id="default", options={"only_repr": False})
        @step
        def start(self):
            self.html = "<html><body><h1 id='own'>Own page</h1><p>made by the step</p></body></html>"
            self.pixel = PNG
            self.frame = pandas.DataFrame({"a": range(8), "b": list("abcdefgh")})
            current.card["default"].append(Markdown("# Options card"))
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_html_error_and_default_card_contents_draw_in_chromium_without_network(tmp_path, proxy):
    if importlib.util.find_spec("pandas") is None:
        pytest.fail("the card browser test needs pandas: pip install -e '.[test]'")
    root = str(tmp_path / "ds")
    drive(write_flow(tmp_path, TYPES_FLOW), root, run_id="r1")
    cards = {card.id: card for card in get_cards(Task("TypesFlow/r1/start/t", root))}
    doms = {}
    _Recorder.seen.clear()
    for name, card in cards.items():
        doms[name] = _chromium("file://" + card.path, proxy.server_port, tmp_path, "--dump-dom").stdout
        shot = tmp_path / f"{name}.png"
        _chromium("file://" + card.path, proxy.server_port, tmp_path, f"--screenshot={shot}")
        assert shot.is_file() and shot.stat().st_size > 1_000, name
    assert _page_requests() == []

    assert '<h1 id="own">Own page</h1>' in doms["html"] and "made by the step" in doms["html"]
    assert "Card Render Failed With Error" in doms["error"]
    default = doms["default"]
    assert "<h1>Options card</h1>" in default
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="pixel">', default)  # an image artifact
    assert "Artifact Name: frame (2 columns and 8 rows)" in default and "<th>b</th>" in default
    assert "<td>e</td>" in default and "<td>f</td>" not in default  # the first five rows
    assert "Truncated - 3 rows not shown" in default
