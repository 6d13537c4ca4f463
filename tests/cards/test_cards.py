"""Cards: components, the pages a task renders, reading them back, and the rule that a card
never fails its task."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from flowc.cards import Artifact, Error, Image, Markdown, ProgressBar, Table, VegaChart, get_cards
from flowc.cards.markdown import markdown_to_html
from flowc.cli import main
from flowc.client import Task
from tests.runtime_shim.driver import drive, write_flow

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63"
                    "f8cfc0f01f0005000201e2d1f2f60000000049454e44ae426082")

FLOW = """
    import time
    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import Markdown, Table, Image, ProgressBar, Error, Artifact, VegaChart

    PNG = bytes.fromhex("%s")

    class Broken(Markdown):
        def render(self):
            raise RuntimeError("component exploded")

    class CardFlow(FlowSpec):
        @card(id="main")
        @step
        def start(self):
            self.rows = [[1, "a"], [2, "b"]]
            current.card.append(Markdown("# Title <script>alert(1)</script>"))
            current.card.append(Table(self.rows, headers=["n", "letter"]))
            current.card.append(Image(PNG, label="pixel"))
            current.card.append(ProgressBar(max=10, value=2), id="bar")
            current.card.components["bar"].update(9)
            current.card.append(Broken("x"))
            current.card.append("a plain string")
            self.next(self.middle)

        @card(type="blank", id="notes")
        @card(type="no_such_type")
        @step
        def middle(self):
            current.card["notes"].append(Markdown("notes *here*"))
            current.card["missing"].append(Markdown("dropped"))
            self.next(self.end)

        @card(timeout=1)
        @step
        def end(self):
            class Slow(Markdown):
                def render(self):
                    time.sleep(3)
                    return "late"
            current.card.append(Slow("x"))
""" % PNG.hex()


@pytest.fixture(scope="module")
def card_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cards")
    root = str(tmp_path / "ds")
    drive(write_flow(tmp_path, FLOW), root, run_id="r1")
    return root


def _cards(root, step):
    return list(get_cards(Task(f"CardFlow/r1/{step}/t", root)))


def test_default_card_has_components_artifacts_and_the_dag(card_run):
    [card] = _cards(card_run, "start")
    assert (card.type, card.id) == ("default", "main") and len(card.hash) == 16
    page = card.get()
    assert page.startswith("<!DOCTYPE html>") and "<h1>Title &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "<th>letter</th>" in page and "<td>b</td>" in page
    assert 'src="data:image/png;base64,' in page and "<figcaption>pixel</figcaption>" in page
    assert '<progress max="10" value="9">' in page
    assert "Markdown could not be rendered" not in page and "Broken could not be rendered" in page
    assert "component exploded" in page and "<p>a plain string</p>" in page
    assert re.search(r'<g class="step current" data-step="start">', page)
    assert 'data-step="middle"' in page and 'data-step="end"' in page
    assert "<td>rows</td><td>list</td>" in page
    assert not re.search(r'(src|href)="https?:', page)  # nothing to fetch
    assert Task("CardFlow/r1/start/t", card_run).cards[0].get() == page


def test_blank_unknown_type_and_missing_id(card_run, monkeypatch):
    cards = _cards(card_run, "middle")
    by_type = {c.type: c for c in cards}
    assert set(by_type) == {"blank", "no_such_type"}
    blank = by_type["blank"].get()
    assert "<em>here</em>" in blank and "dropped" not in blank and "Artifacts" not in blank
    assert "card type &#x27;no_such_type&#x27; is not available in flowc" in by_type["no_such_type"].get()
    assert [c.type for c in get_cards(Task("CardFlow/r1/middle/t", card_run), id="notes")] == ["blank"]
    monkeypatch.setenv("FLOWC_DATASTORE", card_run)
    assert [c.id for c in get_cards("CardFlow/r1/middle/t", id="notes")] == ["notes"]
    assert [c.id for c in get_cards(Task("CardFlow/r1/middle/t", card_run), type="no_such_type")] == [None]


def test_a_slow_card_becomes_an_error_card_and_the_task_succeeds(card_run):
    task = Task("CardFlow/r1/end/t", card_run)
    assert task.successful
    [card] = _cards(card_run, "end")
    assert "longer than the card&#x27;s timeout of 1 seconds" in card.get()


def test_card_cli_view_and_get(card_run, tmp_path):
    cli = CliRunner()
    viewed = cli.invoke(main, ["card", "view", "CardFlow/r1/middle", "--datastore", card_run, "--no-open"])
    assert viewed.exit_code == 0, viewed.output
    paths = viewed.output.split()
    assert len(paths) == 2 and all(p.endswith(".html") for p in paths)
    out = tmp_path / "notes.html"
    got = cli.invoke(main, ["card", "get", "CardFlow/r1/middle/t", str(out), "--id", "notes",
                            "--datastore", card_run])
    assert got.exit_code == 0 and "<em>here</em>" in out.read_text()
    none = cli.invoke(main, ["card", "get", "CardFlow/r1/start", "--type", "blank", "--datastore", card_run])
    assert none.exit_code == 1 and "has no cards of type 'blank'" in none.output


def test_components_render_on_their_own():
    assert markdown_to_html("## Sub\n\n- a\n- **b**\n\n[x](javascript:alert(1)) [ok](https://e.org)") == (
        '<h2>Sub</h2>\n<ul><li>a</li><li><strong>b</strong></li></ul>\n'
        '<p>[x](javascript:alert(1)) <a href="https://e.org">ok</a></p>')
    assert "<pre><code>x &lt; 1</code></pre>" in Markdown("```\nx < 1\n```").render()
    table = Table([[Markdown("*in*"), 3]], headers=["h"]).render()
    assert "<em>in</em>" in table and "<td>3</td>" in table
    assert "&lt;unprintable" not in Artifact({"a": 1}, name="d").render()
    assert "not PNG, JPEG" in Image(b"nope").render_safely()
    assert "ValueError: bad" in Error(ValueError("bad")).render()
    bar = ProgressBar(max=4, label="steps", unit="files")
    bar.update(3)
    assert "3/4 files" in bar.render()
    chart = VegaChart({"mark": "point"}).render()
    spec = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', chart).group(1)
    assert json.loads(spec) == {"mark": "point"} and "flowcDrawVega(" in chart


def test_image_from_matplotlib_takes_a_figure_or_axes():
    class Figure:
        def savefig(self, buffer, format):
            buffer.write(PNG)

    class Axes:
        figure = Figure()

    assert Image.from_matplotlib(Figure()).src == PNG and Image.from_matplotlib(Axes()).src == PNG
    with pytest.raises(TypeError):
        Image.from_matplotlib(object())


def test_image_from_a_real_matplotlib_figure():
    try:
        import matplotlib
    except ImportError:
        pytest.fail("Image.from_matplotlib's test needs matplotlib: pip install -e '.[test]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    assert Image.from_matplotlib(axes, label="line").render().count("data:image/png;base64,") == 1


def test_a_resumed_run_shows_the_cards_of_the_tasks_it_cloned(tmp_path, monkeypatch):
    import io

    from flowc.local.api import resume_flow, run_flow

    path = write_flow(tmp_path, """
        import os
        from metaflow import FlowSpec, card, current, step
        from metaflow.cards import Markdown

        class ResumeCardFlow(FlowSpec):
            @card
            @step
            def start(self):
                current.card.append(Markdown("made in the first run"))
                self.next(self.end)

            @step
            def end(self):
                if os.environ.get("FAIL_END"):
                    raise RuntimeError("end fails")
    """)
    quiet = {"stream": io.StringIO(), "live": False, "echo_logs": False}
    root = str(tmp_path / "ds")
    monkeypatch.setenv("FAIL_END", "1")
    first = run_flow(path, datastore=root, **quiet)
    monkeypatch.delenv("FAIL_END")
    second = resume_flow(path, first.run_id, datastore=root, **quiet)
    assert second.status == "succeeded"
    clone = Task(f"ResumeCardFlow/{second.run_id}/start/t", root)
    assert clone.origin_pathspec == f"ResumeCardFlow/{first.run_id}/start/t"
    [card] = get_cards(clone)
    assert "made in the first run" in card.get()
    assert list(get_cards(clone, follow_resumed=False)) == []
