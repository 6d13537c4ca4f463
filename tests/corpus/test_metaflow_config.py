"""``metaflow.metaflow_config`` and ``metaflow.util`` (issue 15): the corpus's recsys and cv-2
flows read ``DATASTORE_SYSROOT_S3``, the namespaced_events mutator ``get_username``. The names
flowc provides have Metaflow 2.19's values (compared with the reference Metaflow) and, inside a
task, describe the task's datastore; any other name is refused at compile time (FLOW084)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from flowc import metaflow_config, metaflow_util
from tests.conftest import require_metaflow
from tests.frontend.helpers import compile_text, errors_of
from tests.harness import run_locally, snapshot

_VARIABLES = ("FLOWC_USER", "METAFLOW_USER", "SUDO_USER", "USERNAME", "USER", "METAFLOW_PROFILE",
              *(f"METAFLOW_{name}" for name in metaflow_config.__all__))


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No Metaflow setting from the machine: an empty METAFLOW_HOME, none of the variables."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("METAFLOW_HOME", str(tmp_path / "home"))
    return monkeypatch


_FLOW = '''
from metaflow import FlowSpec, step, metaflow_config


class ConfigFlow(FlowSpec):
    @step
    def start(self):
        from metaflow.metaflow_config import DATASTORE_SYSROOT_S3, DATATOOLS_S3ROOT, DEFAULT_DATASTORE
        from metaflow.util import get_username

        self.sysroot_s3 = DATASTORE_SYSROOT_S3
        self.datatools_s3 = DATATOOLS_S3ROOT
        self.default_datastore = DEFAULT_DATASTORE
        self.sysroot_local = metaflow_config.DATASTORE_SYSROOT_LOCAL
        self.user = get_username()
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_the_names_resolve_under_flowc_run_to_the_tasks_datastore_and_the_environment(env, tmp_path):
    env.setenv("METAFLOW_DATASTORE_SYSROOT_S3", "s3://bucket/metaflow")
    env.setenv("METAFLOW_USER", "alice")
    env.setenv("USER", "bob")
    flow = tmp_path / "config_flow.py"
    flow.write_text(_FLOW, encoding="utf-8")
    run_id = run_locally(flow, tmp_path)
    (start,) = snapshot(tmp_path / "datastore", "ConfigFlow", run_id)["start"].values()
    assert start == {"sysroot_s3": "s3://bucket/metaflow", "datatools_s3": "s3://bucket/metaflow/data",
                     "default_datastore": "local", "sysroot_local": str((tmp_path / "datastore").resolve()),
                     "user": "alice"}


def test_inside_a_task_on_s3_the_sysroot_is_the_tasks_root(env, monkeypatch):
    env.setenv("METAFLOW_DATASTORE_SYSROOT_S3", "s3://elsewhere/mf")
    monkeypatch.setattr(metaflow_config, "_task_root", lambda: "s3://bucket/flowc")
    assert (metaflow_config.DATASTORE_SYSROOT_S3, metaflow_config.DEFAULT_DATASTORE,
            metaflow_config.DATATOOLS_S3ROOT) == ("s3://bucket/flowc", "s3", "s3://bucket/flowc/data")
    assert metaflow_config.DATASTORE_SYSROOT_LOCAL is None


def test_the_environment_beats_the_configuration_file_and_profiles_pick_the_file(env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"METAFLOW_DATASTORE_SYSROOT_S3": "s3://file/mf",
                                                  "METAFLOW_DEFAULT_DATASTORE": "s3"}))
    (home / "config_dev.json").write_text(json.dumps({"METAFLOW_DATASTORE_SYSROOT_S3": "s3://dev/mf"}))
    assert (metaflow_config.DATASTORE_SYSROOT_S3, metaflow_config.DEFAULT_DATASTORE) == ("s3://file/mf", "s3")
    env.setenv("METAFLOW_DEFAULT_DATASTORE", "local")
    assert metaflow_config.DEFAULT_DATASTORE == "local"
    env.setenv("METAFLOW_PROFILE", "dev")
    assert metaflow_config.DATASTORE_SYSROOT_S3 == "s3://dev/mf"


@pytest.mark.parametrize("variables,expected", [
    ({}, None),
    ({"USER": "root"}, None),
    ({"USER": "root", "SUDO_USER": "carol"}, "carol"),
    ({"USER": "dave", "USERNAME": "erin"}, "erin"),
    ({"USER": "dave", "METAFLOW_USER": "frank"}, "frank"),
    ({"METAFLOW_USER": "frank", "FLOWC_USER": "grace"}, "grace"),
])
def test_get_username_follows_metaflows_order_and_never_answers_root(env, variables, expected):
    for name, value in variables.items():
        env.setenv(name, value)
    assert metaflow_util.get_username() == expected


_SAME_AS_METAFLOW = """
import json
from metaflow import metaflow_config
from metaflow.util import get_username
names = %r
print(json.dumps({**{name: getattr(metaflow_config, name) for name in names}, "user": get_username()}))
"""


@pytest.mark.parametrize("variables", [
    {},
    {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/mf", "METAFLOW_DATASTORE_SYSROOT_LOCAL": "/data/mf",
     "METAFLOW_DEFAULT_DATASTORE": "s3", "USER": "root", "SUDO_USER": "carol"},
    {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/mf", "METAFLOW_DATATOOLS_S3ROOT": "s3://other/dt",
     "METAFLOW_DATATOOLS_SUFFIX": "tools", "METAFLOW_DATASTORE_SYSROOT_LOCAL": "/data/mf",
     "METAFLOW_USER": "alice", "METAFLOW_S3_ENDPOINT_URL": "http://localhost:9000"},
])
def test_outside_a_task_the_values_are_metaflows(env, tmp_path, variables):
    for name, value in variables.items():
        env.setenv(name, value)
    code = _SAME_AS_METAFLOW % (metaflow_config.__all__,)
    done = subprocess.run([str(require_metaflow()), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          check=True, timeout=120)
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {**{name: getattr(metaflow_config, name) for name in metaflow_config.__all__},
            "user": metaflow_util.get_username()}
    assert ours == theirs


def test_the_flows_names_compile_and_others_from_those_modules_are_refused_at_their_line():
    source = textwrap.dedent('''
        from metaflow import FlowSpec, step
        from metaflow.metaflow_config import DATASTORE_SYSROOT_S3
        from metaflow.util import get_username


        class SurfaceFlow(FlowSpec):
            @step
            def start(self):
                from metaflow.metaflow_config import {config_name}
                from metaflow.util import {util_name}
                self.next(self.end)

            @step
            def end(self):
                pass
        ''')
    compile_text(source.format(config_name="DATATOOLS_S3ROOT", util_name="get_username"))
    errors = errors_of(source.format(config_name="KUBERNETES_NAMESPACE", util_name="to_unicode"))
    assert [(e.code, e.span.line) for e in errors] == [("FLOW084", 10), ("FLOW084", 11)]
    assert "metaflow.metaflow_config.KUBERNETES_NAMESPACE" in errors[0].message
    assert "metaflow.util.to_unicode" in errors[1].message

