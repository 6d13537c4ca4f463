"""One test per construct the front end reads: flow discovery, steps, transitions, parameters,
decorators, docstrings and spans."""

from __future__ import annotations

import dataclasses

import pytest

from flowc.compiler import ir

from .helpers import LINEAR_END, codes_of, compile_text, errors_of, flow_with


def test_linear_flow_and_spans():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END)).flow
    assert flow.name == "TestFlow"
    assert flow.step_names == ("start", "end")
    start = flow.step("start")
    assert start.transition == ir.Linear("end")
    assert start.span == ir.Span("flow.py", 6, 9, 6, 14)  # the name 'start', 1-based columns
    assert start.next_span == ir.Span("flow.py", 7, 9, 7, 28)
    assert flow.span == ir.Span("flow.py", 4, 7, 4, 15)
    assert isinstance(flow.step("end").transition, ir.End)
    assert len(flow.source_sha256) == 64


@pytest.mark.parametrize("header,base", [
    ("from metaflow import FlowSpec, step", "FlowSpec"),
    ("from flowc import FlowSpec, step", "FlowSpec"),
    ("import metaflow\nfrom metaflow import step", "metaflow.FlowSpec"),
    ("import flowc as fc\nfrom flowc import step", "fc.FlowSpec"),
    ("from metaflow import FlowSpec as Base, step", "Base"),
])
def test_flowspec_found_by_qualified_name(header, base):
    source = f"{header}\n\n\nclass F({base}):\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    assert compile_text(source).flow.step_names == ("start", "end")


@pytest.mark.parametrize("decorator", ["metaflow.step", "flowc.step", "s"])
def test_step_decorator_by_qualified_name(decorator):
    source = ("import metaflow\nimport flowc\nfrom metaflow import FlowSpec\nfrom flowc import step as s\n\n\n"
              f"class F(FlowSpec):\n    @{decorator}\n    def start(self):\n        self.next(self.end)\n\n"
              "    @step_alias\n    def helper(self):\n        pass\n\n"
              f"    @{decorator}\n    def end(self):\n        pass\n")
    flow = compile_text(source).flow
    assert flow.step_names == ("start", "end")  # 'helper' is not a step


def test_star_import_resolves_api_names():
    source = ("from metaflow import *\n\n\nclass F(FlowSpec):\n    @retry(times=1)\n    @step\n"
              "    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n")
    flow = compile_text(source).flow
    assert flow.step("start").decorators[0] == ir.Retry(times=1, span=flow.step("start").decorators[0].span)


def test_flow_choice_with_several_flows():
    two = flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END) + "\n\nclass Other(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    assert [d.code for d in errors_of(two)] == ["FLOW005"]
    assert compile_text(two, flow_name="Other").flow.name == "Other"
    (missing,) = errors_of(two, flow_name="Othr")
    assert missing.code == "FLOW006" and missing.hint == "did you mean 'Other'?"


def test_helper_methods_and_docstrings():
    flow = compile_text('''
        from metaflow import FlowSpec, step


        class DocFlow(FlowSpec):
            """Flow doc.

            More text.
            """

            def helper(self):
                return 1

            @step
            def start(self):
                """Start doc."""
                self.next(self.end)

            @step
            def end(self):
                pass
    ''').flow
    assert flow.docstring == "Flow doc.\n\nMore text."
    assert flow.step("start").docstring == "Start doc."
    assert flow.step("end").docstring is None
    assert flow.step_names == ("start", "end")


def test_split_and_join():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.a, self.b)

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
    assert flow.step("start").transition == ir.Split(("a", "b"))
    assert flow.step("join").is_join and flow.kind(flow.step("join")) == "join"
    assert not flow.step("a").is_join


def test_join_argument_may_have_any_name():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, branches):
            self.next(self.end)
    """ + LINEAR_END)).flow
    assert flow.step("join").is_join


def test_foreach_with_constant_attribute_name():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.xs = [1, 2]
            self.next(self.body, foreach=ITEMS)

        @step
        def body(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END, header='from metaflow import FlowSpec, step\nITEMS = "xs"')).flow
    assert flow.step("start").transition == ir.Foreach(target="body", items="xs")
    assert flow.kind(flow.step("start")) == "foreach"


def test_switch_and_recursion():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.n = 0
            self.next(self.loop)

        @step
        def loop(self):
            self.n += 1
            self.next({"again": self.loop, "done": self.end, 3: self.other}, condition="state")

        @step
        def other(self):
            self.next(self.end)
    """ + LINEAR_END)).flow
    loop = flow.step("loop")
    assert loop.transition == ir.Switch("state", (("again", "loop"), ("done", "end"), ("3", "other")))
    assert loop.is_recursive and flow.kind(loop) == "switch"
    assert "loop" not in loop.in_steps  # the self-loop is not a parent edge


def test_parallel():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.train, num_parallel=N)

        @parallel
        @step
        def train(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import FlowSpec, parallel, step\nN = 2 * 2")).flow
    assert flow.step("start").transition == ir.Parallel("train", 4)
    assert flow.step("train").decorator(ir.ParallelDecorator) is not None
    assert flow.step("start").matching_join == "join"


def test_one_line_step_bodies():
    flow = compile_text(flow_with("""
        @step
        def start(self): self.next(self.end)

        @step
        def end(self): pass
    """)).flow
    assert flow.step("start").transition == ir.Linear("end")


def test_parameters():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step\nDEFAULT_LR = 0.1",
        extra='''
        lr = Parameter("learning-rate", default=DEFAULT_LR, help="step size")
        epochs = Parameter("epochs", default=10, required=True, show_default=False)
        flag = Parameter(name="flag", default=False)
        tags = Parameter("labels", default="a,b", separator=",")
        plain = Parameter("plain")
        config = Parameter("config", type=JSONType, default={"layers": [1, 2], "act": "relu"})
        counted = Parameter("counted", type=int, default=len("abc"))
        data = IncludeFile("data", is_text=False, help="raw bytes")
    ''')).flow
    params = {p.attribute: p for p in flow.parameters}
    assert list(params) == ["lr", "epochs", "flag", "tags", "plain", "config", "counted", "data"]
    assert params["lr"].name == "learning-rate" and params["lr"].type == "float"
    assert params["lr"].default == 0.1 and params["lr"].default_kind == "literal"
    assert params["lr"].help == "step size"
    assert params["epochs"].type == "int" and params["epochs"].required and not params["epochs"].show_default
    assert params["flag"].type == "bool" and params["flag"].default is False
    assert params["tags"].separator == ","
    assert params["plain"].default_kind == "none" and params["plain"].type == "str"
    assert params["config"].type == "json"
    assert params["config"].default == '{"layers":[1,2],"act":"relu"}'
    assert params["counted"].default_kind == "runtime" and params["counted"].default_source == 'len("abc")'
    assert params["counted"].type == "int" and params["counted"].default is None
    assert params["data"].include_file and not params["data"].is_text and params["data"].type == "str"


def test_step_decorators_with_metaflow_defaults_and_positional_args():
    flow = compile_text(flow_with("""
        @retry(4, 0)
        @timeout(hours=1, minutes=30)
        @resources(cpu=2, memory=MEMORY, gpu=1)
        @environment(vars={"MODE": "fast", "LEVEL": "3"})
        @kubernetes(image="python:3.11", tolerations=[{"key": "gpu", "operator": "Exists"}])
        @secrets(sources=["env:TOKEN"])
        @card(type="blank", id="one")
        @card(id="two")
        @catch(var="failure", print_exception=False)
        @pypi(packages={"requests": "2.31"}, python="3.11")
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import *\nMEMORY = 8 * 1024")).flow
    decorators = flow.step("start").decorators
    strip = [dataclasses.replace(d, span=ir.NO_SPAN) for d in decorators]
    assert strip == [
        ir.Retry(times=4, minutes_between_retries=0),
        ir.Timeout(minutes=30, hours=1),
        ir.Resources(cpu=2, memory=8192, gpu=1),
        ir.Environment(vars=(("MODE", "fast"), ("LEVEL", "3"))),
        ir.Kubernetes(image="python:3.11", tolerations=((("key", "gpu"), ("operator", "Exists")),)),
        ir.Secrets(sources=("env:TOKEN",)),
        ir.Card(type="blank", id="one"),
        ir.Card(id="two"),
        ir.Catch(var="failure", print_exception=False),
        ir.Pypi(packages=(("requests", "2.31"),), python="3.11"),
    ]
    assert decorators[1].total_seconds == 5400
    assert decorators[0].span.line == 6


def test_flow_decorators():
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header=(
        "from metaflow import FlowSpec, project, schedule, step, trigger, exit_hook\n\n"
        "def notify(run):\n    pass\n\n"
        "@project(name='demo')\n@schedule(cron='0 6 * * 1-5', timezone='Europe/Paris')\n"
        "@trigger(event={'name': 'data_ready', 'parameters': {'alpha': 'value'}})\n"
        "@exit_hook(on_success=[notify])"))).flow
    assert [type(d) for d in flow.decorators] == [ir.Project, ir.Schedule, ir.Trigger, ir.ExitHook]
    assert flow.decorator(ir.Project).name == "demo"
    assert flow.decorator(ir.Schedule).cron_expression == "0 6 * * 1-5"
    assert flow.decorator(ir.Schedule).timezone == "Europe/Paris"
    assert flow.decorator(ir.Trigger).event == (("name", "data_ready"), ("parameters", (("alpha", "value"),)))
    assert flow.decorator(ir.ExitHook).on_success == ("notify",)


def test_unknown_decorator_is_a_carried_warning():
    result = compile_text(flow_with("""
        @my.custom(level=3, name=compute())
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="import my\nfrom metaflow import FlowSpec, step"))
    (record,) = result.flow.step("start").decorators
    assert record == ir.UnknownDecorator(name="my.custom", args=(("level", 3), ("name", None)), span=record.span)
    (warning,) = result.diagnostics
    assert warning.code == "FLOW052" and warning.severity == "warning"


def test_non_static_argument_names_the_argument_and_expression():
    (diagnostic,) = errors_of(flow_with("""
        @retry(times=compute_times())
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import FlowSpec, retry, step"))
    assert diagnostic.code == "FLOW054"
    assert "'times'" in diagnostic.message
    assert diagnostic.span.line == 5 and diagnostic.span.column == 18


STEPS_WITH_TIMES = """
        @retry(times=TIMES)
        @step
        def start(self):
            self.next(self.end)
""" + LINEAR_END


@pytest.mark.parametrize("binding", ["TIMES = 1\nTIMES = 2", "if True:\n    TIMES = 1",
                                     "for TIMES in range(2):\n    pass", "from os import sep as TIMES",
                                     "TIMES = 1\nTIMES += 1"])
def test_module_constants_bound_twice_or_in_blocks_are_not_static(binding):
    source = flow_with(STEPS_WITH_TIMES, header="from metaflow import FlowSpec, retry, step\n" + binding)
    assert codes_of(source) == ["FLOW054"]


def test_module_constant_bound_once_is_static():
    source = flow_with(STEPS_WITH_TIMES, header="from metaflow import FlowSpec, retry, step\nTIMES = 1 + 1")
    assert compile_text(source).flow.step("start").decorators[0].times == 2


def test_hints_use_near_misses():
    diagnostics = errors_of(flow_with("""
        @retry(tiems=2)
        @step
        def start(self):
            self.next(self.edn)
    """ + LINEAR_END, header="from metaflow import FlowSpec, retry, step"))
    hints = {d.code: d.hint for d in diagnostics}
    assert hints == {"FLOW053": "did you mean 'times'?", "FLOW022": "did you mean 'end'?"}


def test_diagnostics_are_sorted_by_position():
    diagnostics = errors_of(flow_with("""
        @step
        def start(self):
            self.next(self.missing_one)

        @retry(times=-1)
        @step
        def a(self):
            self.next(self.missing_two)
    """ + LINEAR_END, header="from metaflow import FlowSpec, retry, step"))
    lines = [d.span.line for d in diagnostics]
    assert lines == sorted(lines) and len(diagnostics) == 3


def test_metaflow_and_flowc_imports_give_the_same_ir():
    body = """
        @retry(times=2)
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END
    metaflow = compile_text(flow_with(body, header="from metaflow import FlowSpec, retry, step")).flow
    flowc = compile_text(flow_with(body, header="from flowc import FlowSpec, retry, step")).flow
    assert metaflow.steps == flowc.steps


def test_flow_inheritance_within_the_file():
    flow = compile_text('''
        from metaflow import FlowSpec, Parameter, project, step


        @project(name="base")
        class BaseFlow(FlowSpec):
            alpha = Parameter("alpha", default=1)
            beta = Parameter("beta", default=2)

            @step
            def start(self):
                self.next(self.work)

            @step
            def work(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        class ChildFlow(BaseFlow):
            """Overrides one step and one parameter."""

            beta = Parameter("beta", default=20)

            @step
            def work(self):
                self.next(self.extra)

            @step
            def extra(self):
                self.next(self.end)
    ''', flow_name="ChildFlow").flow
    assert flow.name == "ChildFlow"
    assert flow.step_names == ("start", "work", "end", "extra")
    assert flow.step("work").transition == ir.Linear("extra")
    assert flow.step("work").span.line == 29  # the override, in ChildFlow
    assert [(p.name, p.default) for p in flow.parameters] == [("alpha", 1), ("beta", 20)]
    assert flow.decorator(ir.Project).name == "base"
    assert flow.docstring == "Overrides one step and one parameter."


def test_next_in_both_branches_of_an_if_suggests_a_switch():
    diagnostics = errors_of(flow_with("""
        @step
        def start(self):
            if self.flag:
                self.next(self.a)
            else:
                self.next(self.end)

        @step
        def a(self):
            self.next(self.end)
    """ + LINEAR_END))
    assert [(d.code, d.span.line) for d in diagnostics] == [("FLOW023", 8), ("FLOW023", 10)]
    assert "condition=" in diagnostics[0].hint


def test_parameter_attribute_named_like_a_flow_attribute():
    (diagnostic,) = errors_of(flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import FlowSpec, Parameter, step",
        extra='name = Parameter("name", default="world")'))
    assert diagnostic.code == "FLOW075"
    assert diagnostic.hint == "rename the attribute, e.g. name_value = Parameter('name', ...); the option stays --name"
