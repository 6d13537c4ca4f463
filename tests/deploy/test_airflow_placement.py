"""Placing the Airflow DAG file without an Airflow API: a directory or an s3:// dags folder.

The end-to-end test against a running Airflow is test_airflow.py (slow); these check the file
placement rules alone, S3 against moto's server on loopback.
"""

from __future__ import annotations

import boto3
import pytest

from flowc import deploy as facade
from flowc.deploy.base import DeployError
from tests.deploy.conftest import BUCKET, make_project

SETTINGS = {"airflow_operator": "local", "datastore_root": "/tmp/flowc-ds"}


def test_dags_folder_directory_written_once(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_API_URL", raising=False)
    dags = tmp_path / "dags"
    dags.mkdir()
    flow = make_project(tmp_path / "p", "linear", {**SETTINGS, "airflow_dags_folder": str(dags)},
                        name="linear_flow.py")
    deployment, prepared = facade.deploy(flow, "airflow")
    assert [str(a) for a in deployment.actions] == [
        f"placed DAG file {dags / 'linear_flow.py'}",
        "skipped DAG LinearFlow (no airflow_api_url: not checked or unpaused)"]
    assert (dags / "linear_flow.py").read_text() == prepared.spec
    assert [p.name for p in dags.iterdir()] == ["linear_flow.py"]  # no temp file left behind
    again, _ = facade.deploy(flow, "airflow")
    assert again.actions[0].verb == "unchanged"
    assert facade.existing(flow, "airflow")[0].name == "LinearFlow"  # the file's dag_id


def test_dags_folder_on_s3(aws, tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_API_URL", raising=False)
    flow = make_project(tmp_path / "p", "linear",
                        {**SETTINGS, "airflow_dags_folder": f"s3://{BUCKET}/dags"}, name="linear_flow.py")
    deployment, prepared = facade.deploy(flow, "airflow")
    assert str(deployment.actions[0]) == f"placed DAG file s3://{BUCKET}/dags/linear_flow.py"
    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=BUCKET, Key="dags/linear_flow.py")["Body"].read().decode() == prepared.spec
    again, _ = facade.deploy(flow, "airflow")
    assert again.actions[0].verb == "unchanged"


def test_missing_dags_folder_and_api_settings_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_DAGS_FOLDER", raising=False)
    monkeypatch.delenv("AIRFLOW_API_URL", raising=False)
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    with pytest.raises(DeployError, match=r"^no dags folder: set airflow_dags_folder"):
        facade.deploy(flow, "airflow")
    with pytest.raises(DeployError, match=r"^no Airflow API: set airflow_api_url"):
        facade.trigger(flow, "airflow")
    monkeypatch.setenv("AIRFLOW_DAGS_FOLDER", str(tmp_path / "nowhere"))
    with pytest.raises(DeployError, match=r"dags folder .*nowhere does not exist"):
        facade.deploy(flow, "airflow")
