"""Property tests: random well-formed graphs compile with the right graph facts; random edits of
valid sources produce diagnostics, never any other exception."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import CompileError, compile_source
from tests.conftest import example_flows, shape_flows

# ----------------------------------------------------------------------------- random graphs
#
# A block is ("linear",), ("split", [seq, ...]), ("foreach", seq), ("switch", [seq, ...]) or
# ("recurse",); a seq is a list of blocks. Rendering gives every step a fresh name and records
# the expected nesting depth (number of enclosing splits/foreaches) of each step.

blocks = st.deferred(lambda: st.one_of(
    st.just(("linear",)),
    st.just(("recurse",)),
    st.tuples(st.just("split"), st.lists(sequences, min_size=2, max_size=3)),
    st.tuples(st.just("foreach"), sequences),
    st.tuples(st.just("switch"), st.lists(sequences, min_size=2, max_size=3)),
))
sequences = st.lists(blocks, min_size=1, max_size=3)


@dataclass
class Renderer:
    counter: itertools.count = field(default_factory=itertools.count)
    steps: list[str] = field(default_factory=list)
    depth: dict[str, int] = field(default_factory=dict)
    joins: dict[str, str] = field(default_factory=dict)  # split step -> its join

    def fresh(self, kind: str) -> str:
        return f"{kind}_{next(self.counter)}"

    def add(self, name: str, nxt: str, depth: int, join: bool = False, extra: str = "") -> None:
        args = "self, inputs" if join else "self"
        self.steps.append(f"    @step\n    def {name}({args}):\n{extra}        {nxt}\n")
        self.depth[name] = depth

    def seq(self, seq: list, after: str, depth: int) -> str:
        """Render ``seq`` so that its last step goes to ``after``; returns its first step."""
        entry = after
        for block in reversed(seq):
            entry = self.block(block, entry, depth)
        return entry

    def block(self, block: tuple, after: str, depth: int) -> str:
        kind = block[0]
        if kind == "linear":
            name = self.fresh("step")
            self.add(name, f"self.next(self.{after})", depth)
            return name
        if kind == "recurse":
            # the loop exits into a step (an exit straight into a join is tested in test_graph_shapes)
            name, exit_step = self.fresh("loop"), self.fresh("step")
            self.add(exit_step, f"self.next(self.{after})", depth)
            self.add(name, f'self.next({{"again": self.{name}, "done": self.{exit_step}}}, condition="state")',
                     depth, extra='        self.state = "done"\n')
            return name
        if kind == "split":
            name, join = self.fresh("split"), self.fresh("join")
            self.joins[name] = join
            self.add(join, f"self.next(self.{after})", depth, join=True)
            firsts = [self.seq(branch, join, depth + 1) for branch in block[1]]
            self.add(name, "self.next(" + ", ".join(f"self.{f}" for f in firsts) + ")", depth)
            return name
        if kind == "foreach":
            name, join = self.fresh("each"), self.fresh("join")
            self.joins[name] = join
            self.add(join, f"self.next(self.{after})", depth, join=True)
            first = self.seq(block[1], join, depth + 1)
            self.add(name, f'self.next(self.{first}, foreach="items")', depth, extra="        self.items = [1, 2]\n")
            return name
        name, merge = self.fresh("switch"), self.fresh("merge")
        self.add(merge, f"self.next(self.{after})", depth)
        firsts = [self.seq(case, merge, depth) for case in block[1]]
        cases = ", ".join(f'"c{i}": self.{f}' for i, f in enumerate(firsts))
        self.add(name, f'self.next({{{cases}}}, condition="choice")', depth, extra='        self.choice = "c0"\n')
        return name


def render(seq: list) -> tuple[str, Renderer]:
    renderer = Renderer()
    first = renderer.seq(seq, "end", 0)
    renderer.add("start", f"self.next(self.{first})", 0)
    renderer.steps.append("    @step\n    def end(self):\n        pass\n")
    renderer.depth["end"] = 0
    source = "from metaflow import FlowSpec, step\n\n\nclass RandomFlow(FlowSpec):\n" + "\n".join(renderer.steps)
    return source, renderer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences)
def test_random_valid_graphs_compile(seq):
    source, renderer = render(seq)
    result = compile_source(source, "random.py")
    flow = result.flow
    assert result.diagnostics == ()
    assert set(flow.step_names) == set(renderer.depth)
    for step in flow.steps:
        expected = renderer.depth[step.name] + (1 if step.is_join else 0)  # a join keeps the split it closes
        assert len(step.split_parents) == expected, step.name
        if step.name in renderer.joins:
            assert step.matching_join == renderer.joins[step.name]
        if step.name != "start":
            assert step.in_steps, step.name


# ----------------------------------------------------------------------------- random edits

SOURCES = [p.read_text(encoding="utf-8") for p in example_flows() + shape_flows()]
FRAGMENTS = ["self.next(", ")", "(", "@step", "def ", "    ", "\n", ":", "inputs", "foreach='x'", "{", "}",
             "'", '"""', "\\", "@retry(times=-1)", "class X(FlowSpec):", "\t", "\x00", "é", "self.end", ","]


@st.composite
def edited(draw) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True)
        operation = draw(st.sampled_from(["delete_line", "duplicate_line", "swap", "cut", "insert"]))
        if operation in ("delete_line", "duplicate_line", "swap") and len(lines) > 2:
            i = draw(st.integers(0, len(lines) - 1))
            if operation == "delete_line":
                del lines[i]
            elif operation == "duplicate_line":
                lines.insert(i, lines[i])
            else:
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        elif operation == "cut" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + draw(st.integers(1, 30)):]
        else:
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(FRAGMENTS)) + text[i:]
    return text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_random_edits_only_produce_diagnostics(text):
    try:
        result = compile_source(text, "edited.py")
    except CompileError as error:
        assert error.diagnostics
        assert all(d.code.startswith("FLOW") and d.severity == "error" or d.severity == "warning"
                   for d in error.diagnostics)
        assert any(d.severity == "error" for d in error.diagnostics)
    else:
        assert all(d.severity != "error" for d in result.diagnostics)
