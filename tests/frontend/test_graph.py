"""Graph facts (Metaflow semantics): in_steps, split_parents, matching_join."""

from __future__ import annotations

from flowc.compiler import ir
from flowc.compiler.graph import walk

from .helpers import LINEAR_END, compile_text, flow_with


def facts(flow: ir.Flow) -> dict[str, tuple]:
    return {s.name: (s.in_steps, s.split_parents, s.matching_join) for s in flow.steps}


NESTED = flow_with("""
        @step
        def start(self):
            self.xs = [1, 2]
            self.next(self.outer, foreach="xs")

        @step
        def outer(self):
            self.ys = [1, 2]
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.inner, foreach="ys")

        @step
        def inner(self):
            self.next(self.inner_join)

        @step
        def inner_join(self, inputs):
            self.next(self.branch_join)

        @step
        def b(self):
            self.next(self.branch_join)

        @step
        def branch_join(self, inputs):
            self.next(self.outer_join)

        @step
        def outer_join(self, inputs):
            self.next(self.end)
""" + LINEAR_END)


def test_nested_splits():
    flow = compile_text(NESTED).flow
    assert facts(flow) == {
        "start": ((), (), "outer_join"),
        "outer": (("start",), ("start",), "branch_join"),
        "a": (("outer",), ("start", "outer"), "inner_join"),
        "inner": (("a",), ("start", "outer", "a"), None),
        # a join keeps the split it closes as its innermost split parent (Metaflow)
        "inner_join": (("inner",), ("start", "outer", "a"), None),
        "b": (("outer",), ("start", "outer"), None),
        "branch_join": (("inner_join", "b"), ("start", "outer"), None),
        "outer_join": (("branch_join",), ("start",), None),
        "end": (("outer_join",), (), None),
    }


def test_switch_pushes_no_split_parent():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.xs = [1]
            self.next(self.classify, foreach="xs")

        @step
        def classify(self):
            self.kind = "even"
            self.next({"even": self.even, "odd": self.odd}, condition="kind")

        @step
        def even(self):
            self.next(self.collect)

        @step
        def odd(self):
            self.next(self.collect)

        @step
        def collect(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END)).flow
    f = facts(flow)
    assert f["even"] == (("classify",), ("start",), None)
    assert f["collect"] == (("even", "odd"), ("start",), None)
    assert f["join"] == (("collect",), ("start",), None)
    assert flow.step("classify").matching_join is None


def test_recursion_is_not_an_edge_or_loop():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.loop)

        @step
        def loop(self):
            self.next({"again": self.loop, "done": self.end}, condition="state")
    """ + LINEAR_END)).flow
    assert facts(flow)["loop"] == (("start",), (), None)
    assert facts(flow)["end"] == (("loop",), (), None)


def test_in_steps_follow_source_order_of_parents():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.b, self.a)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END)).flow
    assert flow.step("join").in_steps == ("a", "b")


def test_walk_is_iterative_on_long_chains():
    steps = "".join(f"""
        @step
        def s{i}(self):
            self.next(self.s{i + 1})
""" for i in range(1500)).replace("self.s1500", "self.end")
    source = flow_with("""
        @step
        def start(self):
            self.next(self.s0)
""" + steps + LINEAR_END)
    flow = compile_text(source).flow
    assert len(walk(flow).order) == 1502
    assert flow.step("end").in_steps == ("s1499",)
