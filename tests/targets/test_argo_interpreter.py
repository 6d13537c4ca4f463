"""Ground the test interpreter in Argo's own semantics: upstream examples run to the outcome the
Argo documentation (and each example's comments) describe.

Examples that draw random numbers run with a ``sitecustomize`` that seeds Python's ``random``
with 0, 1, 2, ... for successive Python processes, so the test can predict every coin flip and
every retry with ``random.Random(n)`` instead of accepting any outcome.
"""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from tests.conftest import UPSTREAM
from tests.harness.argo_expr import evaluate_expr, evaluate_when
from tests.harness.argo_interpreter import (
    FAILED,
    OMITTED,
    SKIPPED,
    SUCCEEDED,
    Interpreter,
    Run,
    load_documents,
    run_spec,
)

EXAMPLES = UPSTREAM / "argo-examples"

# Every example file is either run below or excluded here with the reason.
EXCLUDED = {
    "dag-task-level-timeout.yaml": "sleeps 15 s in each of three pods; template deadlines are "
                                   "covered by test_active_deadline_fails_and_retries (1 s)",
    "exit-handler-dag-level.yaml": "onExit handlers: flowc never emits them",
    "exit-handlers.yaml": "spec.onExit and workflow.status/failures: flowc never emits them",
    "loops-param-result.yaml": "sleeps 20-30 s in each of 11 pods; withParam from a result is "
                               "covered by parameter-aggregation-script.yaml",
    "parallelism-nested-dag.yaml": "sleeps 10 s in each of 15 pods, and template parallelism only "
                                   "limits concurrency, which a sequential interpreter never exceeds",
}

SITECUSTOMIZE = """\
import os, random
_counter = os.environ.get("ARGO_TEST_SEED_FILE")
if _counter:
    with open(_counter, "a+") as f:
        f.seek(0)
        n = len(f.read())
        f.write(".")
    random.seed(n)
"""


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    """Environment for pods: seeded random per Python process, and a ``cowsay`` stand-in."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cowsay = bin_dir / "cowsay"
    cowsay.write_text('#!/bin/sh\necho "< $* >"\n')
    cowsay.chmod(cowsay.stat().st_mode | stat.S_IEXEC)
    return {
        "PYTHONPATH": str(site),
        "ARGO_TEST_SEED_FILE": str(tmp_path / "seeds"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }


def run_example(name: str, env: dict[str, str], tmp_path: Path, **kwargs) -> Run:
    docs = load_documents((EXAMPLES / name).read_text())
    sleeps: list[float] = kwargs.pop("sleeps", [])
    return Interpreter(docs[0], env=env, workdir=tmp_path / "pods", sleep=sleeps.append, **kwargs).run()


def coin(seed: int) -> str:
    return "heads" if random.Random(seed).randint(0, 1) == 0 else "tails"


def flips_until_heads(first_seed: int) -> int:
    n = 0
    while coin(first_seed + n) != "heads":
        n += 1
    return n + 1


def stdout(run: Run, task: str) -> list[str]:
    return [n.stdout.strip() for n in run.find(task) if n.kind == "Pod"]


def test_every_example_is_run_or_excluded_with_a_reason():
    files = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    tested = {name.replace("_", "-").removeprefix("test-") + ".yaml"
              for name in globals() if name.startswith("test_") and name != "test_every_example_is_run_or_excluded_with_a_reason"}
    covered = {f for f in files if f in tested or f in EXCLUDED}
    assert covered == set(files), sorted(set(files) - covered)


def test_arguments_parameters(seeded, tmp_path):
    run = run_example("arguments-parameters.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert [n.stdout for n in run.pods()] == ["hello world\n"]
    run = run_example("arguments-parameters.yaml", seeded, tmp_path / "again", parameters={"message": "goodbye world"})
    assert [n.stdout for n in run.pods()] == ["goodbye world\n"]


def test_global_parameters(seeded, tmp_path):
    run = run_example("global-parameters.yaml", seeded, tmp_path, parameters={"message": "hi there"})
    assert run.phase == SUCCEEDED
    assert [n.stdout for n in run.pods()] == ["hi there\n"]


def test_coinflip_recursive(seeded, tmp_path):
    run = run_example("coinflip-recursive.yaml", seeded, tmp_path)
    flips = flips_until_heads(0)
    assert run.phase == SUCCEEDED
    assert len(run.find("flip-coin")) == flips
    assert [n.outputs["result"] for n in run.find("flip-coin")] == [coin(i) for i in range(flips)]
    assert stdout(run, "heads") == ["it was heads"]
    assert run.phases("tails").count(SKIPPED) == 1  # the last level skips the recursion


def test_conditionals_complex(seeded, tmp_path):
    run = run_example("conditionals-complex.yaml", seeded, tmp_path)
    first, second = coin(0), coin(1)
    assert run.phase == SUCCEEDED
    expected = {
        "heads": SUCCEEDED if first == "heads" else SKIPPED,
        "tails": SUCCEEDED if first == "tails" else SKIPPED,
        "complex-condition": SUCCEEDED if (first, second) in (("heads", "tails"), ("tails", "tails")) else SKIPPED,
        "heads-regex": SUCCEEDED if second == "heads" else SKIPPED,
        "tails-regex": SUCCEEDED if second == "tails" else SKIPPED,
    }
    for task, phase in expected.items():
        assert run.phases(task) == [phase], task


def test_conditionals(seeded, tmp_path):
    # The expr-form step reads workflow.parameters.json, which the example never declares; the
    # test supplies it as `argo submit -p json=...` would.
    run = run_example("conditionals.yaml", seeded, tmp_path, parameters={"json": '[{"value": "true"}]'})
    assert run.phase == SUCCEEDED
    assert len(run.pods()) == 3
    run = run_example("conditionals.yaml", seeded, tmp_path / "no",
                      parameters={"should-print": "false", "json": '[{"value": "false"}]'})
    assert run.phase == SUCCEEDED
    assert run.pods() == []
    assert {n.phase for n in run.nodes if n.kind == "Skipped"} == {SKIPPED}
    assert len([n for n in run.nodes if n.kind == "Skipped"]) == 3


def test_cron_workflow(seeded, tmp_path):
    run = run_example("cron-workflow.yaml", seeded, tmp_path, scheduled_time="2026-03-01T00:00:00Z")
    assert run.phase == SUCCEEDED
    assert run.pods()[0].stdout.strip().endswith("Scheduled on: 2026-03-01T00:00:00Z")


def test_dag_coinflip(seeded, tmp_path):
    run = run_example("dag-coinflip.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    seed = 0
    total = 0
    for _task in "ABCD":  # the interpreter runs A, B, C, D one after the other
        n = flips_until_heads(seed)
        seed += n
        total += n
    assert len(run.find("flip-coin")) == total
    assert len(stdout(run, "heads")) == 4


def test_dag_conditional_parameters(seeded, tmp_path):
    run = run_example("dag-conditional-parameters.yaml", seeded, tmp_path)
    flip = coin(0)
    other = "tails" if flip == "heads" else "heads"
    assert run.phase == SUCCEEDED
    assert run.phases(flip) == [SUCCEEDED]
    assert run.phases(other) == [SKIPPED]
    main = [n for n in run.nodes if n.name == "wf"][0]
    assert main.outputs["parameters"] == {"stepresult": flip}


def test_dag_continue_on_fail(seeded, tmp_path):
    run = run_example("dag-continue-on-fail.yaml", seeded, tmp_path)
    assert run.phase == FAILED  # labelled expected-failure upstream: E fails and G is omitted
    assert run.phases("B") == [FAILED]
    assert run.phases("D") == [SUCCEEDED]  # depends "B.Failed && C"
    assert run.phases("E") == [FAILED]
    assert run.phases("G") == [OMITTED]


def test_dag_diamond(seeded, tmp_path):
    run = run_example("dag-diamond.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    order = [n.stdout.strip() for n in run.pods()]
    assert sorted(order) == ["A", "B", "C", "D"]
    assert order[0] == "A" and order[-1] == "D"


def test_dag_enhanced_depends(seeded, tmp_path):
    run = run_example("dag-enhanced-depends.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED  # C's failure is not a target task's failure
    assert run.phases("C") == [FAILED]
    for task in ("should-execute-1", "should-execute-2", "should-execute-3"):
        assert run.phases(task) == [SUCCEEDED], task
    assert run.phases("should-not-execute") == [OMITTED]


def test_dag_multiroot(seeded, tmp_path):
    run = run_example("dag-multiroot.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    order = [n.stdout.strip() for n in run.pods()]
    assert sorted(order) == ["A", "B", "C", "D"]
    assert order.index("D") > max(order.index("A"), order.index("B"))
    assert order.index("C") > order.index("A")


def test_dag_nested(seeded, tmp_path):
    run = run_example("dag-nested.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    out = [n.stdout.strip() for n in run.pods()]
    assert sorted(out) == sorted(a + b for a in "ABCD" for b in "ABCD")
    assert out[:4] == ["AA", "AB", "AC", "AD"] and out[-1] == "DD"


def test_expression_destructure_json(seeded, tmp_path):
    run = run_example("expression-destructure-json.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert run.pods()[0].stdout.strip() == "123"


def test_fibonacci_seq_conditional_param(seeded, tmp_path):
    # memoize is a cache: ignoring it changes how often pods run, not the outcome.
    run = run_example("fibonacci-seq-conditional-param.yaml", seeded, tmp_path, parameters={"num": "6"})
    assert run.phase == SUCCEEDED
    assert stdout(run, "printresult") == ["8"]


def test_loops_dag(seeded, tmp_path):
    run = run_example("loops-dag.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert [n.stdout.strip() for n in run.pods()] == ["A", "foo", "bar", "baz", "C"]
    assert [n.name for n in run.find("B") if n.kind == "Pod"] == ["wf.B(0:foo)", "wf.B(1:bar)", "wf.B(2:baz)"]


def test_loops_maps(seeded, tmp_path):
    run = run_example("loops-maps.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert len(run.find("test-linux")) == 5  # 4 pods and their group


def test_loops_param_argument(seeded, tmp_path):
    run = run_example("loops-param-argument.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    pods = run.pods()
    assert len(pods) == 4
    assert [p.name.split("(")[1].split(":")[0] for p in pods] == ["0", "1", "2", "3"]


def test_loops_sequence(seeded, tmp_path):
    run = run_example("loops-sequence.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert stdout(run, "sequence-count") == ["0", "1", "2", "3", "4"]
    assert stdout(run, "sequence-start-end") == ["100", "101", "102", "103", "104", "105"]
    assert stdout(run, "sequence-param") == ["200", "201", "202"]
    assert stdout(run, "sequence-negative") == ["5", "4", "3", "2", "1", "0"]
    assert stdout(run, "sequence-format") == [f"testuser{i:02X}" for i in range(5)]


def test_output_parameter(seeded, tmp_path):
    run = run_example("output-parameter.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert stdout(run, "consume-parameter") == ["hello world"]


def test_parameter_aggregation_script(seeded, tmp_path):
    run = run_example("parameter-aggregation-script.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    nodes = [n for n in run.find("divide-by-2") if n.kind != "TaskGroup"]
    assert [n.phase for n in nodes] == [SKIPPED, SUCCEEDED, SKIPPED, SUCCEEDED]
    assert stdout(run, "divide-by-2") == ["1", "2"]


def test_recursive_for_loop(seeded, tmp_path):
    run = run_example("recursive-for-loop.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert [n.outputs["result"] for n in run.find("iterate-counter")] == [str(i) for i in range(1, 11)]
    assert run.phases("continue").count(SKIPPED) == 1  # the 10th iteration stops the recursion


def expected_attempts(first_seed: int = 0) -> int:
    n = 0
    while random.Random(first_seed + n).choice([0, 1, 1]) != 0:
        n += 1
    return n + 1


def test_retry_backoff(seeded, tmp_path):
    sleeps: list[float] = []
    run = run_example("retry-backoff.yaml", seeded, tmp_path, sleeps=sleeps)
    attempts = expected_attempts()
    assert attempts > 1, "seed sequence must exercise at least one retry"
    assert run.phase == SUCCEEDED
    assert len(run.pods()) == attempts
    assert run.nodes[-1].attempts == attempts
    # duration 1 s, factor 2, cap 5 s
    assert sleeps == [min(1 * 2 ** i, 5) for i in range(attempts - 1)]


def test_retry_script(seeded, tmp_path):
    run = run_example("retry-script.yaml", seeded, tmp_path)
    attempts = expected_attempts()
    assert run.phase == SUCCEEDED
    assert [p.phase for p in run.pods()] == [FAILED] * (attempts - 1) + [SUCCEEDED]


def test_scripts_bash(seeded, tmp_path):
    run = run_example("scripts-bash.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    value = run.find("generate")[0].outputs["result"]
    assert 1 <= int(value) <= 101
    assert stdout(run, "print") == [f"result was: {value}"]


def test_scripts_python(seeded, tmp_path):
    run = run_example("scripts-python.yaml", seeded, tmp_path)
    assert run.phase == SUCCEEDED
    assert run.find("generate")[0].outputs["result"] == str(random.Random(0).randint(1, 100))
    assert stdout(run, "print") == [f"result was: {random.Random(0).randint(1, 100)}"]


# ---------------------------------------------------------------------- beyond the examples

def _wf(templates, entrypoint="main", **spec):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "t"},
            "spec": {"entrypoint": entrypoint, "templates": templates, **spec}}


def test_active_deadline_fails_and_retries(tmp_path):
    doc = _wf([{"name": "main", "activeDeadlineSeconds": 1, "retryStrategy": {"limit": 1},
                "container": {"image": "x", "command": ["sleep", "5"]}}])
    run = run_spec(doc, workdir=tmp_path)
    assert run.phase == FAILED
    assert [p.message for p in run.pods()] == ["Pod was active on the node longer than the specified deadline"] * 2


def test_retry_limit_and_retries_variable(tmp_path):
    doc = _wf([{"name": "main", "retryStrategy": {"limit": "2"},
                "container": {"image": "x", "command": ["sh", "-c", "echo {{retries}}; exit 3"]}}])
    run = run_spec(doc, workdir=tmp_path)
    assert run.phase == FAILED
    assert [p.stdout.strip() for p in run.pods()] == ["0", "1", "2"]


def test_template_defaults_env_merge_and_pod_tmp(tmp_path):
    doc = _wf(
        [{"name": "main", "dag": {"tasks": [
            {"name": "a", "template": "w"},
            {"name": "b", "template": "r", "depends": "a.Succeeded",
             "arguments": {"parameters": [{"name": "v", "value": "{{tasks.a.outputs.parameters.out}}"}]}}]}},
         {"name": "w", "container": {"image": "x", "command": ["sh", "-c", "printf %s \"$A$B\" > /tmp/o/f"],
                                     "env": [{"name": "B", "value": "own"}]},
          "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/o/f"}}]}},
         {"name": "r", "inputs": {"parameters": [{"name": "v"}]},
          "container": {"image": "x", "command": ["sh", "-c", "cat /tmp/o/f 2>/dev/null || echo {{inputs.parameters.v}}"]}}],
        templateDefaults={"container": {"image": "x", "env": [{"name": "A", "value": "dflt-"}, {"name": "B", "value": "x"}]}},
    )
    # /tmp/o must exist in the pod's private /tmp for the shell redirect
    doc["spec"]["templates"][1]["container"]["command"][2] = "mkdir -p /tmp/o && " + \
        doc["spec"]["templates"][1]["container"]["command"][2]
    run = run_spec(doc, workdir=tmp_path)
    assert run.phase == SUCCEEDED
    # b's pod does not see a's /tmp; a's env merged the defaults by name
    assert stdout(run, "b") == ["dflt-own"]


def test_unresolved_reference_is_an_error(tmp_path):
    doc = _wf([{"name": "main", "container": {"image": "x", "command": ["echo", "{{inputs.parameters.nope}}"]}}])
    run = run_spec(doc, workdir=tmp_path)
    assert run.phase == "Error"
    assert "unable to resolve" in run.message or "unable to resolve" in run.nodes[-1].message


def test_cycle_and_unknown_dependency_are_rejected(tmp_path):
    cyc = _wf([{"name": "main", "dag": {"tasks": [{"name": "a", "template": "main", "depends": "b"},
                                                  {"name": "b", "template": "main", "depends": "a"}]}}])
    assert "cycle" in run_spec(cyc, workdir=tmp_path).message
    unknown = _wf([{"name": "main", "dag": {"tasks": [{"name": "a", "template": "main", "depends": "zz"}]}}])
    assert "unknown task" in run_spec(unknown, workdir=tmp_path / "u").message


def test_expressions():
    env = {"tasks": {"flip-coin": {"outputs": {"result": "heads"}}, "heads": {"outputs": {"result": "H"}}},
           "inputs": {"parameters": {"n": "3"}}}
    assert evaluate_expr("tasks['flip-coin'].outputs.result == 'heads' ? tasks.heads.outputs.result : tasks.tails.outputs.result", env) == "H"
    assert evaluate_expr("asInt(inputs.parameters.n) + 1", env) == 4
    assert evaluate_expr("false && tasks.missing.x", env) is False  # short circuit
    with pytest.raises(Exception):
        evaluate_expr("tasks.missing.x", env)
    assert evaluate_when("7 < 10 && heads == heads")
    assert not evaluate_when("( heads == tails ) || 10 < 9")
    assert evaluate_when("heads =~ hea")
