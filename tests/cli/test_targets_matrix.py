"""`flowc targets` and docs/targets.md come from the targets' own capability tables."""

from __future__ import annotations

import subprocess
import sys

from flowc.capabilities import BEGIN_MARKER, END_MARKER, embed, matrix, render_markdown
from flowc.targets import get_target, target_names
from flowc.plan import CONSTRUCTS
from tests.conftest import ROOT


def test_docs_embed_the_current_matrix():
    document = (ROOT / "docs" / "targets.md").read_text(encoding="utf-8")
    assert BEGIN_MARKER in document and END_MARKER in document
    assert embed(document) == document, (
        "docs/targets.md is stale; regenerate the table with: "
        "python -c \"import pathlib; from flowc.capabilities import embed; "
        "p = pathlib.Path('docs/targets.md'); p.write_text(embed(p.read_text()))\"")


def test_every_target_describes_every_construct():
    for name in target_names():
        table = get_target(name).capabilities
        assert set(table) == {key for key, _ in CONSTRUCTS}, name
        assert all(cap.how.strip() for cap in table.values()), name


def test_refusals_name_a_registered_diagnostic():
    from flowc.compiler.diagnostics import REGISTRY

    for _, cells in matrix():
        for cell in cells:
            for word in cell.replace("(", " ").replace(")", " ").replace(",", " ").split():
                if word.startswith("FLOW") and word[4:].isdigit():
                    assert word in REGISTRY, word


def test_cli_prints_the_markdown_table():
    result = subprocess.run([sys.executable, "-m", "flowc.cli", "targets", "--markdown"],
                            capture_output=True, text=True, check=True)
    assert result.stdout == render_markdown()


def test_bad_flags_exit_1_like_any_other_bad_input():
    for argv in (["compile", "examples/train.py", "--target", "nope"],
                 ["compile", "examples/train.py", "--target", "argo", "--argo-version", "9"],
                 ["no-such-command"]):
        result = subprocess.run([sys.executable, "-m", "flowc.cli", *argv], capture_output=True,
                                text=True, cwd=ROOT)
        assert result.returncode == 1, (argv, result.stderr)
        assert result.stdout == ""
