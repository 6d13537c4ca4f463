"""Card types beyond default/blank (Metaflow 2.19's ``error`` and ``taskspec_card``, and the
metaflow-card-html ``html`` card), the default card's options, and live cards: a card that
``current.card.refresh()`` re-renders while its task runs, readable meanwhile, replaced by the
final render, and kept by a task that fails."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from flowc.cards import get_cards
from flowc.client import Task
from tests.runtime_shim.driver import RunFailed, drive, write_flow

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63"
                    "f8cfc0f01f0005000201e2d1f2f60000000049454e44ae426082")

# Inside a step: wait until the task's stored card satisfies ``ready`` (a live render landed).
WAIT = """
    import time
    from metaflow import current
    from metaflow.cards import get_cards

    def wait_for_card(ready, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            cards = list(get_cards(current.task))
            if cards and ready(cards[0].get()):
                return cards[0].get()
            time.sleep(0.1)
        raise AssertionError("no live card appeared")
"""

FLOW = WAIT + """
    from metaflow import FlowSpec, card, step
    from metaflow.cards import Markdown, ProgressBar

    class TypesFlow(FlowSpec):
        @card(type="html", id="page")
        @card(type="html", id="other", options={"attribute": "second"})
        @card(type="html", id="unset", options={"attribute": "nothing"})
        @card(type="error", id="err")
        @card(type="taskspec_card", id="spec")
        @step
        def start(self):
            self.html = "<html><body><h1 id='mine'>Mine</h1></body></html>"
            self.second = 42
            self.next(self.options)

        @card(id="repr")
        @card(id="full", options={"only_repr": False, "max_artifact_size": 1000})
        @card(type="html", id="inherited")
        @step
        def options(self):
            self.nested = {"k": list(range(150))}
            self.big = b"0" * 5000
            self.picture = bytes.fromhex("%s")
            self.next(self.live)

        @card(type="blank", refresh_interval=1, options={"title": "Live <title>"})
        @step
        def live(self):
            bar = ProgressBar(max=3, value=0)
            current.card.append(Markdown("# live page"))
            current.card.append(bar)
            bar.update(1)
            current.card.refresh()
            self.seen_live = wait_for_card(lambda page: 'value="1"' in page)
            bar.update(3)
            current.card.append(Markdown("FINAL"))
            self.next(self.end)

        @step
        def end(self):
            pass
""" % PNG.hex()

FAILING = WAIT + """
    from metaflow import FlowSpec, card, step
    from metaflow.cards import Markdown

    class FailFlow(FlowSpec):
        @card(refresh_interval=1)
        @step
        def start(self):
            self.progress = "half way"
            current.card.append(Markdown("before the failure"))
            current.card.refresh()
            wait_for_card(lambda page: "before the failure" in page)
            if self.progress:
                raise ValueError("the step broke")
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.fixture(scope="module")
def types_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("card_types")
    root = str(tmp_path / "ds")
    drive(write_flow(tmp_path, FLOW), root, run_id="r1")
    return root


def _by_id(root: str, step: str) -> dict:
    return {card.id: card.get() for card in get_cards(Task(f"TypesFlow/r1/{step}/t", root))}


def test_html_error_and_taskspec_cards(types_run):
    cards = _by_id(types_run, "start")
    assert cards["page"] == "<html><body><h1 id='mine'>Mine</h1></body></html>"  # the artifact, as given
    assert cards["other"] == "42"  # options={"attribute": ...}, as text
    assert "no html specified: the step has not set self.nothing" in cards["unset"]
    assert "Card Render Failed With Error" in cards["err"] and "<pre>None</pre>" in cards["err"]
    assert cards["spec"] == "TypesFlow/r1/start/t"


def test_default_card_options_images_and_size_limit(types_run):
    cards = _by_id(types_run, "options")
    shortened, full = cards["repr"], cards["full"]
    def row(page: str) -> str:
        return page.split("<td>nested</td>")[1].split("</tr>")[0]

    # only_repr (the default): Metaflow's reprlib limits (100 items) shorten the list ...
    assert "98, 99, ...]" in row(shortened) and "149" not in row(shortened)
    # ... without it the value is pretty-printed in full
    assert "149]" in row(full) and "..." not in row(full)
    # max_artifact_size: stored larger than 1,000 bytes is not shown
    assert "&lt;artifact too large:" in full and "max: 1000 bytes&gt;" in full
    assert "&lt;artifact too large:" not in shortened
    # an html card shows the html artifact the step inherited from start
    assert cards["inherited"] == "<html><body><h1 id='mine'>Mine</h1></body></html>"
    # a PNG artifact is shown as an image
    assert "<h2>Images</h2>" in shortened and 'src="data:image/png;base64,' in shortened


def test_a_live_card_is_readable_while_the_task_runs_and_the_final_render_wins(types_run):
    task = Task("TypesFlow/r1/live/t", types_run)
    seen = task.data.seen_live
    assert "live page" in seen and 'value="1"' in seen and "FINAL" not in seen
    [card] = get_cards(task)
    final = card.get()
    assert 'value="3"' in final and "FINAL" in final
    assert "<h2>Live &lt;title&gt;</h2>" in final  # the blank card's title option


def test_a_failed_task_keeps_its_last_live_card(tmp_path):
    root = str(tmp_path / "ds")
    with pytest.raises(RunFailed):
        drive(write_flow(tmp_path, FAILING), root, run_id="r1")
    [card] = get_cards(Task("FailFlow/r1/start/t", root))
    page = card.get()
    assert "before the failure" in page and "half way" in page  # the artifacts set so far


GATED = """
    import os
    import time
    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import Markdown

    class GateFlow(FlowSpec):
        @card(type="blank", refresh_interval=1)
        @step
        def start(self):
            current.card.append(Markdown("waiting at the gate"))
            current.card.refresh()
            deadline = time.monotonic() + 60
            while not os.path.exists("open-gate") and time.monotonic() < deadline:
                time.sleep(0.1)
            current.card.append(Markdown("through the gate"))
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_flowc_card_get_reads_a_live_card_during_the_run(tmp_path):
    """``flowc run`` in the background; ``flowc card get`` shows the live card while the step
    waits, and the final one after the run."""
    write_flow(tmp_path, GATED, "gate.py")
    run = subprocess.Popen([sys.executable, "-m", "flowc.cli", "run", "gate.py", "--datastore", "ds", "--no-logs"],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        live = _poll_card(tmp_path, "GateFlow", lambda page: "waiting at the gate" in page)
        assert "through the gate" not in live and run.poll() is None  # still running
    finally:
        (tmp_path / "open-gate").write_text("")
        output, _ = run.communicate(timeout=120)
    assert run.returncode == 0, output
    final = _poll_card(tmp_path, "GateFlow", lambda page: True)
    assert "through the gate" in final


def _poll_card(cwd, flow: str, ready, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = sorted((cwd / "ds" / flow / "runs").glob("*")) if (cwd / "ds" / flow / "runs").is_dir() else []
        if runs:
            got = subprocess.run([sys.executable, "-m", "flowc.cli", "card", "get", f"{flow}/{runs[0].name}/start",
                                  "--datastore", "ds"], cwd=cwd, capture_output=True, text=True, timeout=60)
            if got.returncode == 0 and ready(got.stdout):
                return got.stdout
        time.sleep(0.2)
    raise AssertionError(f"no card of {flow}'s start step became ready in {seconds} s")
