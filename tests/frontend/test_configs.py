"""Config resolved at compile time (Metaflow's rules), used wherever a literal is, in the
manifest for every task, and ``self.cfg`` at run time."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file, ir
from flowc.compiler.options import CompileOptions, using
from flowc.compiler.render import dump
from tests.frontend.helpers import emit
from tests.harness import run_locally, snapshot

FLOW = '''
from metaflow import (FlowSpec, step, Config, config_expr, resources, retry, project, schedule,
                      trigger, pypi_base, Parameter, current)

@project(name=config_expr("settings.project"))
@schedule(cron=config_expr("settings.cron"))
@trigger(event=config_expr("settings.event"))
class CfgFlow(FlowSpec):
    cfg = Config("settings", default="settings.json")
    alpha = Parameter("alpha", default=cfg.alpha)

    @resources(cpu=cfg.cpu, memory=cfg["memory"])
    @retry(times=cfg.limits.retries)
    @step
    def start(self):
        self.seen = (self.cfg.cpu, self.cfg["memory"], self.cfg.limits.retries, self.alpha,
                     self.cfg.to_dict()["project"])
        self.project = current.project_name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CfgFlow()
'''
SETTINGS = {"project": "cfgproj", "cron": "0 3 * * *", "event": "data_ready", "cpu": 2, "memory": 8192,
            "limits": {"retries": 2}, "alpha": 0.5, "pypi": {"packages": {"pandas": "2.1"}, "python": "3.11"}}


def write(tmp_path: Path, source: str = FLOW, name: str = "cfg_flow.py", **files: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    for file_name, text in files.items():
        (tmp_path / file_name.replace("__", ".")).write_text(text, encoding="utf-8")
    return path


def compile_with(path: Path, **options: object) -> ir.Flow:
    with using(CompileOptions(**options)):
        return compile_file(path).flow


def errors(path: Path, **options: object) -> list:
    with pytest.raises(CompileError) as info:
        compile_with(path, **options)
    return list(info.value.diagnostics)


def test_config_drives_decorators_parameters_and_flow_decorators(tmp_path):
    path = write(tmp_path, settings__json=json.dumps(SETTINGS))
    flow = compile_with(path)
    start = flow.step("start")
    assert start.decorator(ir.Resources) == ir.Resources(cpu=2, memory=8192, span=start.decorator(ir.Resources).span)
    assert start.decorator(ir.Retry).times == 2
    assert flow.decorator(ir.Project).name == "cfgproj"
    assert flow.decorator(ir.Schedule).cron == "0 3 * * *"
    assert flow.decorator(ir.Trigger).event == "data_ready"
    assert flow.parameters[0].default == 0.5
    (config,) = flow.configs
    assert (config.name, config.attribute, config.origin) == ("settings", "cfg", "default")
    assert json.loads(config.value) == SETTINGS
    assert flow.sources == ("settings.json",)
    assert [(e.kind, e.name, e.detail) for e in flow.evaluated] == [("config-file", "settings", "settings.json")]
    assert ir.load_manifest(ir.dump_manifest(flow)) == flow


def test_config_values_reach_every_target(tmp_path):
    with_trigger = compile_with(write(tmp_path, settings__json=json.dumps(SETTINGS)))
    assert "data_ready" in emit("argo", with_trigger).text  # the sensor's event
    # Step Functions refuses @trigger (FLOW232) whatever its value: the rest without it
    flow = compile_with(write(tmp_path, FLOW.replace('@trigger(event=config_expr("settings.event"))\n', "")))
    texts = {}
    for target, settings in (("argo", {}), ("sfn", {"sfn_format": "cloudformation"}), ("airflow", {})):
        emitted = emit(target, flow, **settings)
        assert [d for d in emitted.diagnostics if d.severity == "error"] == [], target
        texts[target] = emitted.text
        assert "8192" in emitted.text, target  # @resources(memory=cfg["memory"])
        if target != "airflow":  # there the shim reads @project from the manifest (run test below)
            assert "cfgproj" in emitted.text, target  # @project(name=config_expr(...))
    assert "0 3 * * *" in texts["argo"] and "0 3 * * *" in texts["airflow"]
    assert "cron(0 3 * * ? *)" in texts["sfn"]


def test_command_line_values_win_over_the_default_file(tmp_path):
    path = write(tmp_path, settings__json=json.dumps(SETTINGS))
    other = dict(SETTINGS, project="fromvalue", cpu=8)
    flow = compile_with(path, config_values=(("settings", json.dumps(other)),))
    assert flow.decorator(ir.Project).name == "fromvalue"
    assert flow.configs[0].origin == "--config-value"
    (tmp_path / "other.json").write_text(json.dumps(dict(SETTINGS, project="fromfile")))
    flow = compile_with(path, config_files=(("settings", str(tmp_path / "other.json")),))
    assert (flow.decorator(ir.Project).name, flow.configs[0].origin) == ("fromfile", "--config")
    (error,) = errors(path, config_files=(("settings", "x.json"),), config_values=(("settings", "{}"),))
    assert error.code == "FLOW080" and "both by --config and --config-value" in error.message


def test_default_value_required_plain_and_missing_file(tmp_path):
    source = '''
        from metaflow import FlowSpec, step, Config

        class F(FlowSpec):
            a = Config("a", default="missing.json", default_value={"x": [1, 2]})
            b = Config("b", default_value='{"y": 1}')
            c = Config("c")
            d = Config("d", default_value="just text", plain=True, parser="json.loads")

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''
    (error,) = errors(write(tmp_path, source))  # d's text is not JSON
    assert error.code == "FLOW080" and "does not parse with json.loads" in error.message
    source = source.replace('"just text"', "'\"just text\"'")
    flow = compile_with(write(tmp_path, source))
    values = {c.name: (json.loads(c.value), c.origin, c.plain) for c in flow.configs}
    assert values == {"a": ({"x": [1, 2]}, "default_value", False), "b": ({"y": 1}, "default_value", False),
                      "c": (None, "none", False), "d": ("just text", "default_value", True)}
    (error,) = errors(write(tmp_path, source.replace('Config("c")', 'Config("c", required=True)')))
    assert error.code == "FLOW080" and "required and has no value" in error.message
    (error,) = errors(write(tmp_path, source.replace("'{\"y\": 1}'", "'[1]'")))
    assert error.code == "FLOW080" and "must be a dict" in error.message


def test_toml_and_requirements_parsers(tmp_path):
    source = '''
        from metaflow import FlowSpec, step, Config, requirements_txt_parser, pypi_base

        @pypi_base(**config_expr("reqs"))
        class F(FlowSpec):
            t = Config("t", default="conf.toml", parser="tomllib.loads")
            reqs = Config("reqs", default="requirements.txt", parser=requirements_txt_parser)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''.replace("pypi_base\n", "pypi_base, config_expr\n")
    path = write(tmp_path, source, conf__toml='[general]\nname = "x"\n',
                 requirements__txt="pandas==2.1.0\n# comment\nrequests>=2\npython>=3.10\n")
    flow = compile_with(path)
    values = {c.name: json.loads(c.value) for c in flow.configs}
    assert values["t"] == {"general": {"name": "x"}}
    assert values["reqs"] == {"packages": {"pandas": "==2.1.0", "requests": ">=2"}, "python": ">=3.10"}
    assert flow.decorator(ir.PypiBase).python == ">=3.10"
    (error,) = errors(write(tmp_path, source, conf__toml="not = [toml"))
    assert error.code == "FLOW080" and "does not parse with tomllib.loads" in error.message


PARSER_FLOW = '''
    import json
    from pathlib import Path
    from metaflow import FlowSpec, step, Config, retry

    MARKER = "body_ran.txt"
    Path(MARKER).write_text("the module body ran")  # must never run at compile time
    SCALE = 3

    def helper(value):
        return value * SCALE

    def parse_upper(text):
        data = json.loads(text)
        return {key.upper(): helper(value) for key, value in data.items()}

    class F(FlowSpec):
        cfg = Config("cfg", default_value='{"times": 1}', parser=parse_upper)

        @retry(times=cfg.TIMES)
        @step
        def start(self):
            self.times = self.cfg.TIMES
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_a_parser_function_runs_alone_in_isolation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, PARSER_FLOW)
    flow = compile_with(path)
    assert not (tmp_path / "body_ran.txt").exists()  # only the function (and what it uses) ran
    assert json.loads(flow.configs[0].value) == {"TIMES": 3}
    assert flow.step("start").decorator(ir.Retry).times == 3
    assert [(e.kind, e.name) for e in flow.evaluated] == [("parser", "parse_upper")]
    assert "evaluated at compile time: parser parse_upper" in dump(flow)


def test_evaluation_can_be_refused_and_failures_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, PARSER_FLOW)
    (error,) = errors(path, evaluate_code=False)
    assert error.code == "FLOW082" and "parser function 'parse_upper'" in error.message
    (error,) = errors(write(tmp_path, PARSER_FLOW.replace("'{\"times\": 1}'", "'not json'")))
    assert error.code == "FLOW083" and "JSONDecodeError" in error.message
    assert not (tmp_path / "body_ran.txt").exists()


def test_invalid_config_arguments():
    from tests.frontend.helpers import errors_of

    (error,) = errors_of('''
        from metaflow import FlowSpec, step, Config

        class F(FlowSpec):
            cfg = Config("cfg", parser=1)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    assert error.code == "FLOW081"


def test_run_sees_the_compiled_values(tmp_path):
    path = write(tmp_path, settings__json=json.dumps(SETTINGS))
    flow = compile_with(path)
    run_id = run_locally(path, tmp_path / "run")
    artifacts = snapshot(tmp_path / "run" / "datastore", flow.name, run_id)
    assert artifacts["start"]["t"]["seen"] == (2, 8192, 2, 0.5, "cfgproj")
    assert artifacts["start"]["t"]["project"] == "cfgproj"


def test_run_takes_config_values_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from flowc.cli import main

    path = write(tmp_path, settings__json=json.dumps(SETTINGS))
    other = json.dumps(dict(SETTINGS, cpu=16, project="cli"))
    result = CliRunner().invoke(main, ["run", str(path), "--datastore", str(tmp_path / "ds"),
                                       "--config-value", "settings", other, "--no-logs"])
    assert result.exit_code == 0, result.output
    store_runs = list((tmp_path / "ds" / "CfgFlow" / "runs").iterdir())
    artifacts = snapshot(tmp_path / "ds", "CfgFlow", store_runs[0].name)
    assert artifacts["start"]["t"]["seen"] == (16, 8192, 2, 0.5, "cli")


def test_the_manifest_cache_notices_a_changed_config_file(tmp_path):
    from flowc.local.api import run_flow

    path = write(tmp_path, settings__json=json.dumps(SETTINGS))
    seen = []
    for cpu in (2, 6):
        (tmp_path / "settings.json").write_text(json.dumps(dict(SETTINGS, cpu=cpu)))
        result = run_flow(path, (), datastore=str(tmp_path / "ds"), echo_logs=False)
        assert result.exit_code == 0
        seen.append(snapshot(tmp_path / "ds", "CfgFlow", result.run_id)["start"]["t"]["seen"][0])
    assert seen == [2, 6]
