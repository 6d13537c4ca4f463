"""Code Metaflow runs when it deploys a flow, run by flowc at compile time (in isolation, that
code only): callable Parameter defaults and ``config_expr("fn(cfg)")`` calling the module's
functions. The values are in the spec, and runs see what Metaflow 2.19's runs see."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.compiler import CompileError, compile_file, compile_source, ir
from flowc.compiler.options import CompileOptions, using
from tests.frontend.helpers import emit
from tests.harness import run_locally, snapshot

FLOWS = Path(__file__).resolve().parent / "modern_flows"


def test_callable_defaults_are_evaluated_at_compile_time(monkeypatch) -> None:
    monkeypatch.setenv("FLOWC_USER", "tester")
    flow = compile_file(FLOWS / "deploy_time_defaults.py").flow
    defaults = {p.name: (p.default_kind, p.default) for p in flow.parameters}
    assert defaults == {"region": ("literal", "eu-region-1"), "size": ("literal", 2),
                        "owner": ("literal", "DeployTimeDefaultsFlow/tester")}
    assert [(e.kind, e.name, e.detail) for e in flow.evaluated if e.kind == "parameter-default"] == [
        ("parameter-default", "region", "run in isolation, returned 'eu-region-1'"),
        ("parameter-default", "size", "run in isolation, returned 2"),
        ("parameter-default", "owner", "run in isolation, returned 'DeployTimeDefaultsFlow/tester'")]
    argo = emit("argo", flow).text
    assert "value: eu-region-1" in argo and "value: DeployTimeDefaultsFlow/tester" in argo


def test_a_run_sees_the_compiled_defaults_and_overrides(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FLOWC_USER", "tester")
    run_id = run_locally(FLOWS / "deploy_time_defaults.py", tmp_path, params={"size": "5"})
    (start,) = snapshot(tmp_path / "datastore", "DeployTimeDefaultsFlow", run_id)["start"].values()
    assert start["seen"] == ["eu-region-1", 5, "DeployTimeDefaultsFlow/tester"]


DEFAULTS = '''
from metaflow import FlowSpec, Parameter, step


def {name}(ctx):
    {body}


class F(FlowSpec):
    x = Parameter("x", {type}default={name})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def codes(source: str, **options) -> list[tuple[str, str]]:
    with using(CompileOptions(**options)), pytest.raises(CompileError) as info:
        compile_source(source, "flow.py")
    return [(d.code, d.message) for d in info.value.diagnostics]


def test_a_failing_default_function_is_reported() -> None:
    assert codes(DEFAULTS.format(name="bad", body="raise ValueError('no region')", type="")) == [
        ("FLOW083", "parameter 'x': its default function failed: ValueError: no region")]


def test_a_default_of_the_wrong_type_is_refused_as_metaflow_refuses_it() -> None:
    assert codes(DEFAULTS.format(name="count", body="return '3'", type="type=int, ")) == [
        ("FLOW074", "parameter 'x': its default function returned '3', not an int")]


def test_a_non_string_default_of_a_string_parameter_becomes_json() -> None:
    flow = compile_source(DEFAULTS.format(name="pair", body="return [1, 2]", type=""), "flow.py").flow
    assert flow.parameters[0].default == "[1, 2]"


def test_refused_evaluation_names_the_parameter() -> None:
    assert codes(DEFAULTS.format(name="region", body="return 'eu'", type=""), evaluate_code=False) == [
        ("FLOW082", "parameter 'x': its default function would run at compile time (Metaflow runs it when "
                    "it deploys), and evaluation is refused (--no-evaluate)")]


def test_config_expr_calls_the_modules_functions() -> None:
    flow = compile_file(FLOWS / "config_functions.py").flow
    assert flow.decorator(ir.Project).name == "team_alpha"
    assert flow.step("start").decorator(ir.Resources).cpu == 6
    assert dict(flow.step("start").decorator(ir.Environment).vars) == {"LABEL": "TEAM_ALPHA"}
    assert [(e.kind, e.name) for e in flow.evaluated if e.kind == "config-expression"] == [
        ("config-expression", "project_name(cfg)"), ("config-expression", "cpus(cfg)"),
        ("config-expression", "project_name(cfg).upper()")]


def test_config_expr_calling_a_function_is_refused_without_evaluation() -> None:
    with using(CompileOptions(evaluate_code=False)), pytest.raises(CompileError) as info:
        compile_file(FLOWS / "config_functions.py")
    assert any("config_expr('project_name(cfg)') calls project_name(), which would run at compile time, "
               "and evaluation is refused (--no-evaluate)" in d.message for d in info.value.diagnostics)


@pytest.mark.parametrize("command", ["trigger", "status"])
def test_trigger_and_status_compile_with_the_given_configs(tmp_path, monkeypatch, command) -> None:
    """They compile the flow to find its deployment, whose name a config may give."""
    from flowc.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow.py").write_text((FLOWS / "config_functions.py").read_text().replace(
        'default_value={"name": "Alpha", "size": 3}', "required=True"))
    base = [command, "flow.py", "-t", "argo", "--set", "datastore_root=s3://b/p"]
    without = CliRunner().invoke(main, base, env={"ARGO_SERVER": None})
    assert without.exit_code == 1 and "FLOW080" in without.output
    given = CliRunner().invoke(main, [*base, "--config-value", "cfg", '{"name": "A", "size": 1}'],
                               env={"ARGO_SERVER": None})
    assert given.exit_code == 1 and "FLOW080" not in given.output and "no Argo Server" in given.output


@pytest.mark.slow
@pytest.mark.parametrize("name", [  # paths as metaflow_compare takes them, relative to tests/corpus
    "../frontend/modern_flows/deploy_time_defaults.py", "../frontend/modern_flows/config_functions.py",
    "netflix_metaflow/test/ux/core/flows/config/config_simple.py",
    "netflix_metaflow/test/ux/core/flows/config/config_corner_cases.py"])
def test_artifacts_match_metaflow(name, monkeypatch) -> None:
    from tests.conftest import require_metaflow
    from tests.corpus.metaflow_compare import compare

    require_metaflow()  # never skipped: the comparison is the point
    monkeypatch.setenv("METAFLOW_USER", "tester")  # the user Metaflow's run has (metaflow_compare)
    assert compare(name) == "same"


CONFIG_DEFAULTS = '''
import os
from metaflow import Config, FlowSpec, config_expr, project, step


def settings(ctx):
    return {"project": ctx.flow_name.lower() + "_" + ctx.parameter_name}


@project(name=config_expr("cfg").project)
class F(FlowSpec):
    cfg = Config("cfg", default_value=settings)
    local = Config("local", default=os.path.join(os.path.dirname(__file__), "local.json"))
    named = Config("named", default=lambda ctx: "local.json")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_callable_config_defaults_and_delayed_access(tmp_path) -> None:
    (tmp_path / "local.json").write_text('{"a": 1}')
    (tmp_path / "flow.py").write_text(CONFIG_DEFAULTS)
    flow = compile_file(tmp_path / "flow.py").flow
    assert {c.name: (c.value, c.origin) for c in flow.configs} == {
        "cfg": ('{"project": "f_cfg"}', "default_value"), "local": ('{"a": 1}', "default"),
        "named": ('{"a": 1}', "default")}
    assert flow.decorator(ir.Project).name == "f_cfg"
    assert "local.json" in flow.sources and not any(s.startswith("/") for s in flow.sources)
    assert [(e.kind, e.name) for e in flow.evaluated if e.kind == "config-default"] == [
        ("config-default", "cfg"), ("config-default", "named")]


def test_a_lambda_default_has_the_modules_imports(monkeypatch) -> None:
    monkeypatch.setenv("REGION_FOR_TEST", "ap-south")
    source = DEFAULTS.replace("from metaflow import", "import os\nfrom metaflow import").format(
        name="unused", body="pass", type="").replace("default=unused", 'default=lambda ctx: os.environ["REGION_FOR_TEST"]')
    assert compile_source(source, "flow.py").flow.parameters[0].default == "ap-south"


def test_flowc_run_evaluates_a_callable_default_for_every_run(tmp_path, monkeypatch) -> None:
    """The manifest cache never keeps a callable default's value: Metaflow calls it per run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow.py").write_text(DEFAULTS.replace("from metaflow import", "from pathlib import Path\nfrom metaflow import")
                                      .format(name="current_label", body="return Path('label.txt').read_text()", type="")
                                      .replace("self.next(self.end)", "self.label = self.x\n        self.next(self.end)", 1))
    seen = []
    for label in ("first", "second"):
        (tmp_path / "label.txt").write_text(label)
        run_id = run_locally(tmp_path / "flow.py", tmp_path / "runs")
        (start,) = snapshot(tmp_path / "runs" / "datastore", "F", run_id)["start"].values()
        seen.append(start["label"])
    assert seen == ["first", "second"]
