"""Flows split across modules: base flows, mixins, constants and re-exported decorators in
project-local modules, followed statically; diagnostics point into the module at fault."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file, ir
from flowc.compiler.options import CompileOptions, using
from tests.harness import run_locally, snapshot

FILES = {
    "pyproject.toml": "[project]\nname = 'demo'\n",
    "common/__init__.py": "",
    "common/settings.py": "RETRIES = 2\nIMAGE = 'registry/train:1'\n",
    "common/decos.py": "from metaflow import resources as res\n",
    "common/mixins.py": '''
        from metaflow import step

        class ReportMixin:
            @step
            def report(self):
                self.summary = "report of " + self.model
                self.next(self.end)
    ''',
    "common/pipeline.py": '''
        from metaflow import FlowSpec, Parameter, retry, step

        from .mixins import ReportMixin
        from .settings import RETRIES


        class Pipeline(FlowSpec, ReportMixin):
            alpha = Parameter("alpha", default=0.1)

            @retry(times=RETRIES)
            @step
            def start(self):
                self.base = "pipeline"
                self.next(self.train)

            @step
            def train(self):
                self.model = "untrained"
                self.next(self.report)

            @step
            def end(self):
                pass
    ''',
    "flows/train.py": '''
        from metaflow import kubernetes, step

        from common.decos import res
        from common.pipeline import Pipeline
        from common.settings import IMAGE


        class Training(Pipeline):
            @res(cpu=2)
            @kubernetes(image=IMAGE)
            @step
            def train(self):
                self.model = self.base + "-trained"
                self.next(self.report)


        if __name__ == "__main__":
            Training()
    ''',
}


def make(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_base_flow_mixin_constants_and_decorators_from_other_modules(tmp_path):
    make(tmp_path, FILES)
    result = compile_file(tmp_path / "flows" / "train.py")
    flow = result.flow
    assert flow.name == "Training"
    assert flow.step_names == ("report", "start", "train", "end")
    assert flow.step("start").decorator(ir.Retry).times == 2  # a constant of common.settings
    train = flow.step("train")
    assert train.decorator(ir.Resources).cpu == 2  # metaflow's resources, re-exported as res
    assert train.decorator(ir.Kubernetes).image == "registry/train:1"
    assert train.span.path.endswith("flows/train.py")  # the override is the subclass's
    assert flow.step("start").span.path.endswith("common/pipeline.py")
    assert flow.step("report").span.path.endswith("common/mixins.py")
    assert [p.name for p in flow.parameters] == ["alpha"]
    assert set(flow.sources) == {"../common/pipeline.py", "../common/settings.py", "../common/decos.py",
                                 "../common/mixins.py"}
    # modules outside the flow's directory are followed, with a warning about code packages
    assert {d.code for d in result.diagnostics} == {"FLOW087"}


def test_modules_beside_the_flow_run_with_flowc_run(tmp_path):
    files = {name.replace("flows/", ""): text for name, text in FILES.items()}
    make(tmp_path, files)
    result = compile_file(tmp_path / "train.py")
    assert result.diagnostics == ()
    assert "common/pipeline.py" in result.flow.sources
    run_id = run_locally(tmp_path / "train.py", tmp_path / "run")
    artifacts = snapshot(tmp_path / "run" / "datastore", "Training", run_id)
    assert artifacts["end"]["t"]["summary"] == "report of pipeline-trained"


def test_pythonpath_adds_an_import_root(tmp_path):
    make(tmp_path / "lib", {k: v for k, v in FILES.items() if k.startswith("common/")})
    make(tmp_path / "app", {"train.py": FILES["flows/train.py"]})
    with pytest.raises(CompileError) as info:
        compile_file(tmp_path / "app" / "train.py")
    assert info.value.diagnostics[0].code == "FLOW004"
    with using(CompileOptions(pythonpath=(str(tmp_path / "lib"),))):
        assert compile_file(tmp_path / "app" / "train.py").flow.name == "Training"


def test_the_pythonpath_setting_adds_import_roots_relative_to_its_pyproject(tmp_path):
    from flowc.settings import load_settings

    make(tmp_path / "lib", {k: v for k, v in FILES.items() if k.startswith("common/")})
    make(tmp_path / "app", {"train.py": FILES["flows/train.py"]})
    (tmp_path / "pyproject.toml").write_text('[tool.flowc]\npythonpath = ["lib"]\n')
    assert compile_file(tmp_path / "app" / "train.py").flow.name == "Training"
    load_settings(tmp_path / "app" / "train.py", {})  # a known key for the deployment settings too
    (tmp_path / "pyproject.toml").write_text('[tool.flowc]\npythonpath = "lib"\n')
    with pytest.raises(CompileError) as info:
        compile_file(tmp_path / "app" / "train.py")
    assert [d.code for d in info.value.diagnostics][:1] == ["FLOW089"]
    assert "pythonpath must be a list of directories" in info.value.diagnostics[0].message


def test_a_problem_in_a_base_module_points_there(tmp_path):
    broken = dict(FILES)
    broken["common/pipeline.py"] = FILES["common/pipeline.py"].replace("self.next(self.train)",
                                                                       "self.next(self.trian)")
    make(tmp_path, broken)
    with pytest.raises(CompileError) as info:
        compile_file(tmp_path / "flows" / "train.py")
    (error,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert error.code == "FLOW022"
    assert error.span.path == str(tmp_path / "flows" / ".." / "common" / "pipeline.py").replace("/flows/..", "")
    assert error.span.line == 14


def test_a_syntax_error_or_unreadable_base_module_is_reported_in_that_module(tmp_path):
    broken = dict(FILES)
    broken["common/pipeline.py"] = "class Pipeline(:\n"
    make(tmp_path, broken)
    with pytest.raises(CompileError) as info:
        compile_file(tmp_path / "flows" / "train.py")
    (error,) = info.value.diagnostics
    assert error.code == "FLOW003" and error.span.path.endswith("common/pipeline.py")
    (tmp_path / "common" / "pipeline.py").write_bytes(b"x = '\xe9'\n")
    with pytest.raises(CompileError) as info:
        compile_file(tmp_path / "flows" / "train.py")
    (error,) = info.value.diagnostics
    assert error.code == "FLOW085" and "cannot read module common.pipeline" in error.message


def test_the_manifest_cache_notices_a_changed_module(tmp_path):
    from flowc.local.api import run_flow

    files = {name.replace("flows/", ""): text for name, text in FILES.items()}
    make(tmp_path, files)
    seen = []
    for retries in (2, 5):
        (tmp_path / "common" / "settings.py").write_text(f"RETRIES = {retries}\nIMAGE = 'x'\n")
        result = run_flow(tmp_path / "train.py", (), datastore=str(tmp_path / "ds"), echo_logs=False)
        assert result.exit_code == 0
        manifests = sorted((tmp_path / "ds" / ".manifests").glob("*.json"))
        data = json.loads(manifests[0].read_text())
        step = next(s for s in data["manifest"]["flow"]["steps"] if s["name"] == "start")
        seen.append(step["decorators"][0]["times"])
    assert seen == [2, 5]
