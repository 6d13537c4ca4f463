"""Compile a flow file (anywhere) to ASL for the moto harness and run it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flowc.compiler import compile_file, ir
from flowc.plan import build as build_plan
from flowc.settings import from_values
from flowc.targets import get_target, sfn
from tests.harness.artifacts import snapshot
from tests.harness.moto_sfn import MotoSfn, _environ

DATASTORE = "s3://flowc-test/datastore"


def deploy(aws: MotoSfn, path: Path, **changes: Any) -> tuple[ir.Flow, str]:
    """The ASL of ``path`` (the image's code directory is the file's own) with its manifest
    uploaded where the definition reads it."""
    flow = compile_file(path).flow
    settings = from_values(**{"code": "image", "code_dir": str(path.parent), "python": sys.executable,
                              "datastore_root": DATASTORE, "sfn_job_queue": aws.job_queue,
                              "sfn_job_definition": aws.job_definition, **changes})
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    assert emitted.ok, emitted.diagnostics
    location = sfn.manifest_location(flow, settings)
    aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
    return flow, emitted.text


def s3_snapshot(aws: MotoSfn, flow_name: str, run_id: str) -> dict:
    with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        return snapshot(DATASTORE, flow_name, run_id)


def s3_run_record(aws: MotoSfn, flow_name: str, run_id: str) -> dict:
    from flowc.runtime_shim.datastore import open_datastore

    with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        return open_datastore(DATASTORE).read_run(flow_name, run_id) or {}
