"""Compile flows to Step Functions and validate the output the way AWS users do in CI.

- ``statelint_problems``: PyPI statelint, in process, every check on. statelint 3.1 predates the
  AWS field ``ItemReader.ReaderConfig.InputType`` (AWS requires it for an ``s3:getObject``
  reader; the AWS CDK's ``S3JsonItemReader`` always writes it), so it is taught that one field as
  an enumeration, the way the moto harness is taught AWS's behaviour. Nothing is ignored.
- ``asl_validator``: the npm asl-validator through its JS API (tests/harness/js/validate.js).
- ``cfn_lint``: cfn-lint on CloudFormation templates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

from flowc.compiler import compile_file, compile_source
from flowc.plan import build as build_plan
from flowc.targets import Emitted, Settings, get_target
from tests.conftest import ROOT, target_settings

JS = ROOT / "tests" / "harness" / "js"
INPUT_TYPES = ["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"]


def relative(path: Path) -> Path:
    return path.resolve().relative_to(ROOT) if path.is_absolute() else path


def emit(path: Path, **settings: Any) -> str:
    """The sfn output of ``path``, compiled by its path relative to the repo (as CI does)."""
    flow = compile_file(relative(path)).flow
    emitted = get_target("sfn").emit(build_plan(flow), target_settings(**settings))
    errors = [d for d in emitted.diagnostics if d.severity == "error"]
    assert not errors, errors
    return emitted.text


def emit_source(source: str, path: str = "flow.py", **settings: Any) -> Emitted:
    flow = compile_source(source, path).flow
    return get_target("sfn").emit(build_plan(flow), target_settings(**settings))


def with_settings(**changes: Any) -> Settings:
    return target_settings(**changes)


def cfn_definition(template: dict[str, Any]) -> dict[str, Any]:
    """The state machine of a CloudFormation template with its substitutions filled in, as
    CloudFormation hands it to Step Functions."""
    props = template["Resources"]["StateMachine"]["Properties"]
    text = props["DefinitionString"]
    for name in props["DefinitionSubstitutions"]:
        text = text.replace("${%s}" % name, f"substituted-{name}")
    return json.loads(text)


@contextlib.contextmanager
def _statelint_knows_input_type() -> Iterator[None]:
    from statelint.fields import _EnumStrField
    from statelint.nodes import map_state

    cls = map_state.ReaderConfig
    original = cls.optional_fields
    field = _EnumStrField("InputType", INPUT_TYPES)

    def optional_fields(self):
        return [*original.fget(self), field]

    cls.optional_fields = property(optional_fields)
    try:
        yield
    finally:
        cls.optional_fields = original


def statelint_problems(definition: dict[str, Any]) -> list[str]:
    from statelint.linter import Linter

    with _statelint_knows_input_type():
        return Linter.validate(json.loads(json.dumps(definition)))


def asl_validator(definitions: dict[str, dict[str, Any]], tmp: Path) -> dict[str, list[str]]:
    """{name: error messages} from the npm asl-validator (one node process for all)."""
    if not (JS / "node_modules" / "asl-validator").is_dir():
        raise RuntimeError(f"asl-validator is not installed: run `npm ci --prefix {JS}` "
                           f"(or `npm install --prefix {JS}`)")
    files = []
    for name, definition in definitions.items():
        file = tmp / f"{name}.asl.json"
        file.write_text(json.dumps(definition), encoding="utf-8")
        files.append(str(file))
    node = shutil.which("node") or "node"
    done = subprocess.run([node, str(JS / "validate.js"), *files], capture_output=True, text=True,
                          cwd=JS, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    results = {}
    for line in done.stdout.splitlines():
        record = json.loads(line)
        results[Path(record["file"]).name.removesuffix(".asl.json")] = record["errors"]
    assert set(results) == set(definitions), done.stdout + done.stderr
    return results


def cfn_lint(templates: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    files = []
    for name, text in templates.items():
        file = tmp / f"{name}.template.json"
        file.write_text(text, encoding="utf-8")
        files.append(str(file))
    return subprocess.run(["cfn-lint", "--format", "parseable", "--", *files], capture_output=True,
                          text=True, timeout=300)
