"""Argo substitutes every '{{...}}' and cannot escape one: user values holding '{{' are refused
with FLOW209 at their source line instead of producing a workflow Argo would rewrite."""

from __future__ import annotations

import textwrap

import pytest

from flowc.compiler import compile_source
from flowc.plan import build as build_plan
from flowc.targets import Settings, get_target
from tests.conftest import target_settings

FLOW = textwrap.dedent('''
    from flowc import FlowSpec, Parameter, environment, kubernetes, step


    class TagsFlow(FlowSpec):
        greeting = Parameter("greeting", default={default!r})

        @kubernetes(labels={{"team": {label!r}}})
        @environment(vars={{"A": {env!r}}})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def emit(**values):
    source = FLOW.format(**{"default": "hi", "label": "ml", "env": "x", **values})
    flow = compile_source(source, "tags.py").flow
    return get_target("argo").emit(build_plan(flow), target_settings())


@pytest.mark.parametrize("field, line", [("default", 6), ("env", 9), ("label", 8)])
def test_a_template_tag_in_a_user_value_is_refused_at_its_line(field, line):
    emitted = emit(**{field: "{{workflow.name}}"})
    assert emitted.text == ""
    assert [(d.code, d.span.line) for d in emitted.diagnostics] == [("FLOW209", line)]


def test_single_braces_and_shell_characters_pass_through_verbatim():
    emitted = emit(default="{x} $(id) it's", env="${HOME} `id`")
    assert not emitted.diagnostics
    assert "value: '{x} $(id) it''s'" in emitted.text  # a workflow argument: Argo passes it on as is
    assert "value: $${HOME} `id`" in emitted.text  # a container env value: the kubelet reads $$ as $
