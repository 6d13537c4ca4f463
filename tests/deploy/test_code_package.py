"""flowc deploy with code packages: the package is built, uploaded once, and the spec uses it."""

from __future__ import annotations

import hashlib

import boto3
from click.testing import CliRunner

from flowc import deploy as facade
from flowc.cli import main
from flowc.package import build_package
from flowc.targets.common import BOOTSTRAP_COMMAND
from tests.deploy.argo_fake import FakeArgo
from tests.deploy.conftest import BUCKET, make_project


def test_package_uploaded_to_s3_and_referenced_by_the_deployed_spec(aws, tmp_path, monkeypatch):
    flow = make_project(tmp_path / "p", "linear", {"namespace": "flows", "code": "package"})
    (tmp_path / "p" / "helpers.py").write_text("VALUE = 1\n")
    expected = build_package(flow, tmp_path / "local")
    with FakeArgo() as argo:
        monkeypatch.setenv("ARGO_SERVER", argo.url)
        result = CliRunner().invoke(main, ["deploy", str(flow), "-t", "argo",
                                           "--code-package-dir", f"s3://{BUCKET}/code/"])
        assert result.exit_code == 0, result.output
        url = f"s3://{BUCKET}/code/{expected.path.name}"
        template = argo.objects[("workflow-templates", "flows", "linearflow")]
        commands = [t["container"]["command"] for t in template["spec"]["templates"] if "container" in t]
        assert commands and all(c[:4] == ["python", "-c", BOOTSTRAP_COMMAND, url] for c in commands)

        s3 = boto3.client("s3")
        body = s3.get_object(Bucket=BUCKET, Key=f"code/{expected.path.name}")["Body"].read()
        assert body == expected.path.read_bytes()
        assert hashlib.sha256(body).hexdigest() == expected.sha256

        # deploying again uploads nothing: an object of that (content-addressed) name is there,
        # so even a marker written over it survives
        s3.put_object(Bucket=BUCKET, Key=f"code/{expected.path.name}", Body=b"marker")
        deployment, prepared = facade.deploy(flow, "argo", {"code_package_dir": f"s3://{BUCKET}/code"})
        assert deployment.code_package == url == prepared.settings.code_package
        assert s3.get_object(Bucket=BUCKET, Key=f"code/{expected.path.name}")["Body"].read() == b"marker"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="code/")["Contents"]] == [
            f"code/{expected.path.name}"]


def test_package_copied_to_a_directory(tmp_path, monkeypatch):
    flow = make_project(tmp_path / "p", "linear", {"namespace": "flows", "code": "package"})
    expected = build_package(flow, tmp_path / "local")
    with FakeArgo() as argo:
        monkeypatch.setenv("ARGO_SERVER", argo.url)
        deployment, prepared = facade.deploy(flow, "argo", {"code_package_dir": str(tmp_path / "pkgs")})
    copied = tmp_path / "pkgs" / expected.path.name
    assert deployment.code_package == str(copied)
    assert copied.read_bytes() == expected.path.read_bytes()
    assert f"- {BOOTSTRAP_COMMAND}\n      - {copied}\n" in prepared.spec
