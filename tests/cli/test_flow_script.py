"""``python flow.py COMMAND ...``: the arguments handed to the ``flowc`` command."""

from __future__ import annotations

import sys
import types

import pytest

from flowc import FlowSpec, Parameter
from flowc.flow_script import flowc_argv, translate


class Base(FlowSpec):
    alpha = Parameter("alpha", default=1)


class Child(Base):
    learning_rate = Parameter("learning_rate", default=0.1)


def test_parameter_options_become_param_and_others_pass_through():
    args = ["--alpha", "21", "--learning-rate=0.5", "--datastore", "ds", "--max-workers", "2"]
    assert translate(Child, args) == ["--param", "alpha=21", "--param", "learning-rate=0.5",
                                      "--datastore", "ds", "--max-workers", "2"]


def test_a_parameter_option_without_its_value_is_one_line_error():
    with pytest.raises(SystemExit, match="option --alpha needs a value"):
        translate(Child, ["--alpha"])


def test_flowc_argv_names_the_flow_file_and_translates_only_run(monkeypatch):
    module = types.ModuleType("user_flow")
    module.__file__ = "/flows/user_flow.py"
    monkeypatch.setitem(sys.modules, "user_flow", module)
    flow = type("UserFlow", (Base,), {"__module__": "user_flow"})
    assert flowc_argv(flow, ["user_flow.py", "run", "--alpha", "2"]) == [
        "run", "/flows/user_flow.py", "--param", "alpha=2"]
    assert flowc_argv(flow, ["user_flow.py", "graph", "--alpha", "2"]) == [
        "graph", "/flows/user_flow.py", "--alpha", "2"]
    with pytest.raises(SystemExit, match="usage: python user_flow.py run"):
        flowc_argv(flow, ["user_flow.py"])
