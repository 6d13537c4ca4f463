"""The test interpreter refuses what it does not model, so a spec can never pass a test by using
a field the interpreter silently ignores (issue 13, item 12). One test per refusal."""

from __future__ import annotations

import pytest

from tests.harness.argo_interpreter import FAILED, IGNORED, MODELLED, InterpreterError, run_spec


def workflow(templates, **spec):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "t"},
            "spec": {"entrypoint": "main", "templates": templates, **spec}}


def pod(name="main", command=("true",), **extra):
    return {"name": name, "container": {"image": "x", "command": list(command)}, **extra}


def dag(*tasks, **extra):
    return {"name": "main", "dag": {"tasks": list(tasks), **extra}}


def refused(document, needle: str, tmp_path) -> None:
    with pytest.raises(InterpreterError, match=needle):
        run_spec(document, workdir=tmp_path)


def test_on_exit_naming_a_missing_template(tmp_path):
    """Argo's validator rejects it; the interpreter used to run the workflow and succeed."""
    refused(workflow([pod()], onExit="missing"), r"template .missing. does not exist", tmp_path)


def test_task_level_on_exit(tmp_path):
    refused(workflow([dag({"name": "a", "template": "p", "onExit": "p"}), pod("p")]),
            r"tasks\[0\]\.onExit", tmp_path)


def test_continue_on_in_a_dag(tmp_path):
    refused(workflow([dag({"name": "a", "template": "p", "continueOn": {"failed": True}}), pod("p")]),
            r"tasks\[0\]\.continueOn", tmp_path)


def test_continue_on_error_in_steps(tmp_path):
    refused(workflow([{"name": "main", "steps": [[{"name": "a", "template": "p",
                                                   "continueOn": {"error": True}}]]}, pod("p")]),
            r"continueOn\.error", tmp_path)


def test_retry_expression(tmp_path):
    refused(workflow([pod(retryStrategy={"limit": 2, "expression": "lastRetry.exitCode == 1"})]),
            r"retryStrategy\.expression", tmp_path)


def test_misspelt_depends(tmp_path):
    """'dependss' would have dropped the ordering silently; the strict schema refuses it too."""
    refused(workflow([dag({"name": "a", "template": "p"}, {"name": "b", "template": "p", "dependss": "a"}),
                      pod("p")]), "dependss", tmp_path)


def test_fail_fast(tmp_path):
    refused(workflow([dag({"name": "a", "template": "p"}, failFast=False), pod("p")]),
            r"dag\.failFast", tmp_path)


def test_artifacts(tmp_path):
    refused(workflow([pod(outputs={"artifacts": [{"name": "a", "path": "/tmp/a"}]})]),
            r"outputs\.artifacts", tmp_path)


def test_env_from_a_secret(tmp_path):
    template = pod()
    template["container"]["envFrom"] = [{"secretRef": {"name": "s"}}]
    refused(workflow([template]), r"container\.envFrom", tmp_path)


def test_volume_mounts(tmp_path):
    template = pod()
    template["container"]["volumeMounts"] = [{"name": "v", "mountPath": "/data"}]
    refused(workflow([template]), r"container\.volumeMounts", tmp_path)


def test_workflow_level_deadline(tmp_path):
    refused(workflow([pod()], activeDeadlineSeconds=5), r"spec\.activeDeadlineSeconds", tmp_path)


def test_suspend_template(tmp_path):
    refused(workflow([{"name": "main", "suspend": {}}]), r"\.suspend: not modelled", tmp_path)


def test_output_from_json_path(tmp_path):
    refused(workflow([pod(outputs={"parameters": [{"name": "o", "valueFrom": {"jsonPath": "{.x}"}}]})]),
            r"valueFrom\.jsonPath", tmp_path)


def test_an_unknown_retry_policy(tmp_path):
    refused(workflow([pod(retryStrategy={"limit": 1, "retryPolicy": "Sometimes"})]),
            "unknown retryPolicy", tmp_path)


def test_a_document_argo_would_reject(tmp_path):
    """Schema-valid keys only: a container without an image fails Argo's published schema."""
    refused(workflow([{"name": "main", "container": {"command": ["true"]}}]), "fails Argo's schema", tmp_path)


def test_on_transient_error_does_not_retry_a_plain_failure(tmp_path):
    """Modelled as Argo does: a non-zero exit is not a transient error (it used to be retried)."""
    run = run_spec(workflow([pod(command=["sh", "-c", "exit 1"],
                                 retryStrategy={"limit": 3, "retryPolicy": "OnTransientError"})]),
                   workdir=tmp_path)
    assert run.phase == FAILED and len(run.pods()) == 1


def test_input_parameter_default_is_modelled(tmp_path):
    run = run_spec(workflow([dag({"name": "a", "template": "p"}),
                             {"name": "p", "inputs": {"parameters": [{"name": "v", "default": "dflt"}]},
                              "container": {"image": "x", "command": ["echo", "{{inputs.parameters.v}}"]}}]),
                   workdir=tmp_path)
    assert [p.stdout.strip() for p in run.pods()] == ["dflt"]


def test_ignored_fields_are_not_also_modelled():
    """A key is either implemented or ignored with a reason, never both."""
    for kind, reasons in IGNORED.items():
        assert not set(reasons) & MODELLED[kind], kind
        assert all(reasons.values()), kind
