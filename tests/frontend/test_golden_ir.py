"""Golden IR: the readable dump and the manifest of every example and shape flow, compared
byte for byte (``pytest --update-golden`` rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.compiler import compile_file, ir
from flowc.compiler.render import dot, dump, mermaid
from tests.conftest import ROOT, example_flows, shape_flows

EXAMPLES = example_flows()
SHAPES = shape_flows()


def compiled(path: Path, monkeypatch: pytest.MonkeyPatch) -> ir.Flow:
    monkeypatch.chdir(ROOT)  # spans carry the path as given: keep it relative
    return compile_file(path.relative_to(ROOT)).flow


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_ir(path, golden, monkeypatch):
    flow = compiled(path, monkeypatch)
    golden.check(f"ir/examples/{path.stem}.txt", dump(flow))
    golden.check(f"ir/examples/{path.stem}.json", ir.dump_manifest(flow))
    golden.check(f"ir/examples/{path.stem}.mmd", mermaid(flow))


@pytest.mark.parametrize("path", SHAPES, ids=[p.stem for p in SHAPES])
def test_shape_ir(path, golden, monkeypatch):
    flow = compiled(path, monkeypatch)
    golden.check(f"ir/flows/{path.stem}.txt", dump(flow))


@pytest.mark.parametrize("path", EXAMPLES + SHAPES, ids=[p.stem for p in EXAMPLES + SHAPES])
def test_manifest_round_trips(path, monkeypatch):
    flow = compiled(path, monkeypatch)
    assert ir.load_manifest(ir.dump_manifest(flow)) == flow


def test_dot_output_is_a_digraph(monkeypatch):
    flow = compiled(ROOT / "examples" / "etl.py", monkeypatch)
    text = dot(flow)
    assert text.startswith('digraph "EtlFlow" {\n') and text.endswith("}\n")
    assert '"extract" -> "clean_orders";' in text
    assert '"merge" [shape=box3d, label="merge (join)"];' in text


def test_examples_cover_the_issue_shapes(monkeypatch):
    flows = {p.stem: compiled(p, monkeypatch) for p in EXAMPLES}
    kinds = {stem: {flow.kind(s) for s in flow.steps} for stem, flow in flows.items()}
    assert {"foreach", "join"} <= kinds["train"] and flows["train"].parameters
    assert {"split", "join"} <= kinds["etl"]
    assert "switch" in kinds["quality_gate"]
    assert any(s.is_recursive for s in flows["polling"].steps)
    assert max(len(s.split_parents) for s in flows["nested_foreach"].steps) == 2


def test_graph_text_quotes_every_label():
    from tests.frontend.helpers import LINEAR_END, compile_text, flow_with

    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next({'say "hi"': self.a, "back\\\\slash": self.end}, condition="mode")

        @step
        def a(self):
            self.next(self.end)
    """ + LINEAR_END)).flow
    assert 'step_start -->|"mode = say #quot;hi#quot;"| step_a' in mermaid(flow)
    assert '"start" -> "a" [label="mode = say \\"hi\\""];' in dot(flow)
    assert '"start" -> "end" [label="mode = back\\\\slash"];' in dot(flow)
