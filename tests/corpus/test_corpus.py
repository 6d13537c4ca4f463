"""Real public Metaflow flows (tests/corpus/SOURCES.md), each compiled for all three targets.

Flows from repositories other than Netflix/metaflow are not committed: ``python -m
tests.corpus.materialize`` brings them (pinned in external.json); their cases are skipped, naming
that command, while they are absent.

``expected.json`` holds, per flow, either the diagnostic codes it is rejected with (each one
explained in docs/metaflow.md) or the error codes each target reports (``[]``: compiles), plus
any compile options the flow's own tests pass (``--config-value``). A change in either direction
fails: a newly rejected flow, and a rejection that went away without updating the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file
from flowc.compiler.options import CompileOptions, using
from tests.corpus.materialize import EXTERNAL, external_flows, missing
from tests.frontend.helpers import emit

CORPUS = Path(__file__).resolve().parent
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
TARGETS = ("argo", "sfn", "airflow")
EXTERNAL_FLOWS = external_flows()
PERMISSIVE = {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"}
# Target defects reported to the target owner, asserted as strict expected failures.
KNOWN_TARGET_CRASHES: dict[tuple[str, str], str] = {}  # (flow, target) -> why, as strict xfails


@pytest.fixture(autouse=True)
def _known_user(monkeypatch):
    """Mutators may read the user (``metaflow.util.get_username``, None for root or when unset, as
    in Metaflow): name one, so what compiles does not depend on who runs the tests."""
    monkeypatch.delenv("FLOWC_USER", raising=False)
    monkeypatch.setenv("METAFLOW_USER", "corpus")


def _options(entry: dict) -> CompileOptions:
    raw = entry.get("options", {})
    return CompileOptions(config_values=tuple(tuple(pair) for pair in raw.get("config_values", ())))


def _compile(name: str):
    if name in EXTERNAL_FLOWS and not (CORPUS / name).is_file():
        pytest.skip(f"{EXTERNAL_FLOWS[name]} is not materialized: python -m tests.corpus.materialize")
    with using(_options(EXPECTED[name])):
        return compile_file(CORPUS / name)


def test_the_corpus_is_large_enough_and_sourced():
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert len(EXPECTED) >= 169
    assert sum("targets" in e for e in EXPECTED.values()) >= 135
    assert len(EXTERNAL_FLOWS) >= 85 and set(EXTERNAL_FLOWS) <= set(EXPECTED)
    assert len({repo for repo in EXTERNAL_FLOWS.values()}) >= 4
    assert {entry["licence"] for entry in EXTERNAL.values()} <= PERMISSIVE
    unsourced = [name for name in EXPECTED if f"`{name}`" not in sources]
    assert unsourced == []


def test_materialized_external_files_are_the_pinned_ones():
    """A materialized copy that differs from external.json (edited, or from another commit) would
    make the expectations meaningless; absent copies are reported by the skips."""
    present = [f"{entry['dir']}/{path}" for entry in EXTERNAL.values() for path in [*entry["files"], *entry["links"]]
               if (CORPUS / entry["dir"] / path).exists() or (CORPUS / entry["dir"] / path).is_symlink()]
    assert sorted(set(missing()) & set(present)) == []


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "rejected" in e))
def test_rejected_flows_are_rejected_with_their_diagnostics(name):
    with pytest.raises(CompileError) as info:
        _compile(name)
    codes = sorted({d.code for d in info.value.diagnostics if d.severity == "error"})
    assert codes == EXPECTED[name]["rejected"]


CASES = [pytest.param(name, target, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_TARGET_CRASHES[(name, target)])]
                      if (name, target) in KNOWN_TARGET_CRASHES else [], id=f"{name}-{target}")
         for name, entry in sorted(EXPECTED.items()) if "targets" in entry for target in TARGETS]


@pytest.mark.parametrize("name,target", CASES)
def test_flow_compiles_for_each_target(name, target):
    flow = _compile(name).flow
    emitted = emit(target, flow)
    codes = sorted({d.code for d in emitted.diagnostics if d.severity == "error"})
    expected = EXPECTED[name]["targets"][target]
    assert codes == ([] if expected == "crash" else expected)
    if not codes:
        assert emitted.text


# Corpus flows whose artifacts match Metaflow 2.19's exactly (tests/corpus/METAFLOW.md has the
# whole comparison), each exercising a different construct.
SAME_AS_METAFLOW = [
    "netflix_metaflow/test/unit/configs/flows/config_naming_flow.py",  # configs by name and attribute
    "netflix_metaflow/test/unit/inheritance/flows/comprehensive_diamond_flow.py",  # base flows, mixins
    "netflix_metaflow/test/unit/mutators/flows/dual_inherit_flow.py",  # mutators through inheritance
    "netflix_metaflow/test/unit/mutators/flows/dynamic_flow_mutator_flow.py",  # a mutator adding steps' decorators
    "netflix_metaflow/test/unit/spin/flows/merge_artifacts_flow.py",  # merge_artifacts in a join
    "netflix_metaflow/test/test_config/card_config.py",  # --config-value driving @card
    "netflix_metaflow/test/ux/core/flows/basic/catch_flow.py",  # @catch(var=) after a failure
    "netflix_metaflow/test/ux/core/flows/basic/helloproject.py",  # @project's user branch
    "netflix_metaflow/test/ux/core/flows/dag/foreach_split_switch_dedup_flow.py",  # switch inside a foreach
    "netflix_metaflow/test/ux/core/flows/dag/nested_foreach_3level_flow.py",  # nested foreach
    "netflix_metaflow/test/ux/core/flows/decorators/env_flow.py",  # @environment
    "outerbounds_config_examples/git-info/git_config.py",  # a parser function run at compile time, a card
    "outerbounds_config_examples/toml/toml_config.py",  # a TOML config file
    "outerbounds_custom_decorator_examples/flow-linter/hungryflow.py",  # a FlowMutator checking limits
    "outerbounds_full_stack_ml_metaflow_tutorial/scipy-full-stack-ml/flows/local/catch.py",  # @catch var in a join
]


@pytest.mark.slow
@pytest.mark.parametrize("name", SAME_AS_METAFLOW)
def test_artifacts_match_metaflow(name):
    from tests.conftest import require_metaflow
    from tests.corpus.metaflow_compare import compare

    require_metaflow()
    if name in EXTERNAL_FLOWS and not (CORPUS / name).is_file():
        pytest.skip(f"{EXTERNAL_FLOWS[name]} is not materialized: python -m tests.corpus.materialize")
    assert compare(name) == "same"
