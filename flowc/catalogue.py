"""The catalogue of diagnostic codes, for ``flowc explain`` and docs/diagnostics.md.

Codes are registered next to the pass that emits them, so the catalogue loads every such module:
the front end, the checker, the build, the CLI and every registered target (a target is found
through the registry, so a new one needs no edit here).
"""

from __future__ import annotations

import importlib

from flowc.compiler.diagnostics import REGISTRY, Code
from flowc.targets import all_targets

_MODULES = ("flowc.compiler", "flowc.compiler.frontend", "flowc.compiler.checker", "flowc.build",
            "flowc.cli")


def load_all() -> dict[str, Code]:
    """Every registered code, sorted by code."""
    for name in _MODULES:
        importlib.import_module(name)
    all_targets()
    return dict(sorted(REGISTRY.items()))


DOC_HEADER = """# Diagnostics

flowc reports every problem of a flow file at once, sorted by position, then exits with status 1
and writes nothing. Each diagnostic looks like this (mypy's `--pretty` style):

```
flows/train.py:14:19: error: step 'start' transitions to unknown step 'jion' [FLOW022]
            self.next(self.jion)
                      ^~~~~~~~~
    hint: did you mean 'join'?
Found 1 error in 1 file
```

- `path:line:column` (1-based, as editors count), the severity (`error`, `warning`), the message
  and the code; then the source line with a caret under the offending span, then a hint when
  there is one (near-miss names come from `difflib`).
- Problems with the file itself (missing, a directory, binary or not UTF-8, no flow, several
  flows without `--flow`) are one line: `path: error: message [FLOW00n]`. A syntax error shows
  Python's own message at its position. None of them ever prints a traceback.
- `--format json` (on `flowc compile`, `flowc ir`, `flowc run`; `--diagnostics-format json` on
  `flowc graph`) prints one JSON array on standard output instead, for editors and CI
  annotations: objects with `path`, `line`, `column`, `end_line`, `end_column`, `severity`,
  `code`, `message`, `hint`.
- `flowc explain FLOW022` prints a code's explanation; `flowc explain` lists every code,
  including the targets' (FLOW200-FLOW289) and the CLI's (FLOW300-FLOW349).
- Warnings (e.g. FLOW052, an unknown decorator) are printed but do not fail the compilation.

Expected diagnostics are written inline in the invalid corpus, `tests/frontend/invalid/*.py`:
`self.next(self.jion)  # E: FLOW022` (and `# W:` for warnings, `# E@file:` for file-level
errors); the test checks code and line of every diagnostic, in both directions.

## Front end and checker codes (FLOW001-FLOW099)

This catalogue is generated from the code (`python -m flowc.catalogue > docs/diagnostics.md`);
a test keeps it in sync.
"""


def markdown() -> str:
    """docs/diagnostics.md: the format, then every FLOW0xx code with its explanation."""
    out = [DOC_HEADER]
    for entry in load_all().values():
        if not entry.code.startswith("FLOW0"):
            continue
        out.append(f"### {entry.code}: {entry.title}\n\n{entry.explanation}\n")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(markdown())
