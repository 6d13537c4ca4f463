"""Checks shared by the @parallel tests: the JobSet CRD's published schema, made strict.

The CRD (tests/upstream/jobset, see its README) holds an OpenAPI v3 schema; Kubernetes prunes
fields a structural schema does not list, so a misspelt key would vanish silently on a cluster.
The strict copy adds ``additionalProperties: false`` to every object that lists properties and
does not preserve unknown fields, so such a key fails here instead.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml

from flowc.compiler import compile_file, ir
from tests.conftest import UPSTREAM

JOBSET_CRD = UPSTREAM / "jobset" / "jobset.x-k8s.io_jobsets-v0.12.0.yaml"


def _strict(node: Any) -> None:
    if isinstance(node, dict):
        if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        if node.get("x-kubernetes-int-or-string"):
            node.pop("type", None)
            node["type"] = ["integer", "string"]
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


@functools.lru_cache(maxsize=None)
def jobset_validator() -> jsonschema.Draft202012Validator:
    crd = yaml.safe_load(JOBSET_CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    _strict(schema)
    # apiVersion/kind/metadata: the API server's own (ObjectMeta); the CRD lists them as objects
    return jsonschema.Draft202012Validator(schema)


def jobset_errors(document: dict[str, Any]) -> list[str]:
    errors = jobset_validator().iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


# --------------------------------------------------------------------------- gangs as engines start them

def _shim(flow: Path, manifest: Path, datastore: Path, run_id: str, step: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(flow), "--manifest", str(manifest),
            "--datastore", str(datastore), "--run-id", run_id, "--step", step, *extra]


def run_gang_like_an_engine(flow: Path, tmp: Path, nodes: int, member_env: Callable[[int, int], dict[str, str]],
                            params: dict[str, str] | None = None, run_id: str = "engine-run"
                            ) -> tuple[list[subprocess.CompletedProcess[str]], str]:
    """Run the gang flow ``tests/targets/parallel_flows/gang.py`` the way a JobSet or a Batch
    multi-node job does: every member started at once with the same command (the gang's parent
    index path: none), told its place only by ``member_env(node, nodes)``. Returns the gang's
    processes and the run id; the other steps must succeed."""
    manifest = tmp / "manifest.json"
    manifest.write_text(ir.dump_manifest(compile_file(flow).flow), encoding="utf-8")
    datastore = tmp / "datastore"
    pairs = [f"--param={k}={v}" for k, v in {"nodes": str(nodes), **(params or {})}.items()]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWC_", "AWS_BATCH_"))}

    def run(step: str, *extra: str) -> None:
        done = subprocess.run(_shim(flow, manifest, datastore, run_id, step, *extra), env=base,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    run("start", *pairs)
    members = [subprocess.Popen(_shim(flow, manifest, datastore, run_id, "train"),
                                env={**base, **member_env(node, nodes)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for node in range(nodes)]
    finished = []
    for proc in members:
        out, err = proc.communicate(timeout=120)
        finished.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    if all(p.returncode == 0 for p in finished):
        run("join")
        run("end")
    return finished, run_id


def without_main_ip(artifacts: dict[str, Any]) -> dict[str, Any]:
    """A run's snapshot without the ``main`` artifact (``current.parallel.main_ip``), which is
    the engine's to choose; everything else must equal ``flowc run``'s."""
    return {step: {tid: {k: v for k, v in values.items() if k != "main"} for tid, values in tasks.items()}
            for step, tasks in artifacts.items()}


# --------------------------------------------------------------------------- Step Functions on moto

SFN_DATASTORE = "s3://flowc-test/datastore"
MULTINODE_DEFINITION = "flowc-job-definition-multinode"
GANG_FLOW = Path("tests/targets/parallel_flows/gang.py")


def deploy_gang_flow(aws: Any) -> tuple[ir.Flow, str]:
    """The gang flow's ASL for a ``MotoSfn`` harness, its manifest uploaded where tasks read it."""
    from flowc.plan import build as build_plan
    from flowc.targets import get_target, sfn
    from tests.conftest import ROOT, target_settings

    flow = compile_file(GANG_FLOW).flow
    settings = target_settings(code_dir=str(ROOT), python=sys.executable, datastore_root=SFN_DATASTORE,
                               sfn_job_queue=aws.job_queue, sfn_job_definition=aws.job_definition)
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    assert emitted.ok, emitted.diagnostics
    location = sfn.manifest_location(flow, settings)
    aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
    return flow, emitted.text


def execution_report(result: Any) -> str:
    lines = [f"execution {result.status}: {result.error} {result.cause}"]
    lines += [f"- job {j['name']} exit {j['exit_code']}: " + Path(j["log"]).read_text(errors="replace")[-3000:]
              for j in result.jobs if j["exit_code"]]
    return "\n".join(lines)
