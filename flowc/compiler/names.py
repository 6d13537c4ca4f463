"""Names every engine can carry: a parameter name must survive a command-line option, an Argo
``{{workflow.parameters.NAME}}`` reference, a JSON key and an Airflow ``params`` entry unquoted."""

from __future__ import annotations

import re

from flowc.compiler import ir
from flowc.compiler.diagnostics import Diagnostic, register

PARAMETER_CHARACTERS = register("FLOW076", "parameter name with characters no engine can carry", """
A parameter name becomes a command-line option (`--name`, as in Metaflow), an Argo Workflows
parameter referenced as `{{workflow.parameters.name}}`, a key of the Step Functions input and of
Airflow's `params`. Names such as `a}}{{b`, `x=y` or `a b` would break out of those or be
unreachable, so flowc accepts what Metaflow's command line accepts: a letter or `_` first, then
letters, digits, `_` and `-`.""")

_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def check_parameter_names(flow: ir.Flow) -> list[Diagnostic]:
    """FLOW076 for every parameter whose name is outside ``[A-Za-z_][A-Za-z0-9_-]*``."""
    return [Diagnostic(PARAMETER_CHARACTERS, f"parameter name {p.name!r} holds characters no engine can "
                       "carry", p.span, hint="use letters, digits, '_' and '-', starting with a letter")
            for p in flow.parameters if not _PARAMETER_NAME.fullmatch(p.name)]
