"""The import surface: every name a flow imports from metaflow is implemented (it imports when
a task runs) or refused at compile time with FLOW084 naming it; one table (flowc.surface)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from flowc import surface
from tests.conftest import ROOT

from .helpers import compile_text, errors_of

# The issue's list, plus the module paths it names.
ISSUE_NAMES = ["Config", "ConfigValue", "config_expr", "FlowMutator", "StepMutator", "user_step_decorator",
               "UserStepDecorator", "USER_SKIP_STEP", "S3", "namespace", "get_namespace",
               "default_namespace", "get_metadata", "metaflow_version", "parallel_map", "profile",
               "pyproject_toml_parser", "requirements_txt_parser", "yaml_parser"]
ISSUE_MODULES = ["metaflow.client", "metaflow.cards", "metaflow.exception"]

FLOW_BODY = """

class SurfaceFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _imports_at_run_time(statement: str) -> bool:
    """Whether ``statement`` works where tasks run (the shim's ``metaflow`` alias installed)."""
    code = ("from flowc.runtime_shim.loader import install_metaflow_alias\ninstall_metaflow_alias()\n"
            + statement)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT).returncode == 0


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_each_name_is_implemented_or_refused_by_name(name):
    source = f"from metaflow import FlowSpec, step, {name}\n" + FLOW_BODY
    works = _imports_at_run_time(f"from metaflow import {name}")
    if works:
        assert surface.refusal("metaflow", name) is None
        compile_text(source)
    else:
        (error,) = errors_of(source)
        assert error.code == "FLOW084" and error.message.startswith(f"metaflow.{name} is not available")
        assert error.span.line == 1


@pytest.mark.parametrize("module", ISSUE_MODULES)
def test_each_module_path_is_implemented_or_refused(module):
    source = f"import {module}\nfrom metaflow import FlowSpec, step\n" + FLOW_BODY
    if _imports_at_run_time(f"import {module}"):
        compile_text(source)
    else:
        (error,) = errors_of(source)
        assert error.code == "FLOW084" and module in error.message


def test_current_attributes_and_text_that_only_looks_like_an_import():
    source = textwrap.dedent('''
        """Not an import: from metaflow import S3"""
        from metaflow import FlowSpec, current, step

        class SurfaceFlow(FlowSpec):
            @step
            def start(self):
                print(current.flow_name, current.trigger)
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    (error,) = errors_of(source)
    assert error.code == "FLOW084" and error.message.startswith("current.trigger is not available")


def test_every_refusal_is_documented():
    text = (ROOT / "docs" / "metaflow.md").read_text(encoding="utf-8")
    missing = [key for key in surface.REFUSED if f"`{key}`" not in text]
    assert missing == []
