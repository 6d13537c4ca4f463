"""Project decorators that apply a Metaflow decorator conditionally, such as the common helper
``@enable_decorator(batch(cpu=4), flag=os.getenv("USE_BATCH"))`` (defined in the flow's project,
not by Metaflow).

Whether such a wrapper applies its decorator is decided by its own code when Metaflow imports the
flow, so flowc runs exactly that function, in isolation (``isolated``), with a probe in the
decorator's place and the other arguments evaluated statically (literals, constants, deploy-time
environment reads, configs); the wrapped decorator then reaches the spec as if written directly, or
is left out. When that cannot be known (the wrapper is not defined in the project, an argument is
only known at run time, evaluation is refused), the flow is refused with a diagnostic naming both:
a wrapped ``@batch`` is never dropped silently.
"""

from __future__ import annotations

from typing import Any, Mapping

import libcst as cst

from flowc.compiler import ir, isolated
from flowc.compiler.configs import EVALUATION_FAILED, EVALUATION_REFUSED
from flowc.compiler.diagnostics import Diagnostic, register

UNRESOLVED_WRAPPER = register("FLOW088", "conditionally applied decorator cannot be resolved", """
A decorator of the flow's own (e.g. `@enable_decorator(batch(...), flag=...)`) takes a Metaflow
decorator and decides whether to apply it. flowc runs that function at compile time to find out,
but here it cannot: the function is not defined in the flow's project (so its code is not
available), or another argument is only known at run time. Write the decorator directly, or
compute the condition from literals, constants, `os.getenv` or a `Config`.""")

PROBE = {"__flowc_probe__": True}  # stands for the wrapped decorator in the isolated call


def applies(function: str, module: cst.Module, constants: Mapping[str, Any], args: list[Any],
            kwargs: dict[str, Any], cwd: str, path: list[str]) -> bool:
    """Whether ``function(*args, **kwargs)`` applies the decorator passed as ``PROBE`` to a step
    (raises ``isolated.IsolatedError`` when the function fails)."""
    extracted = isolated.extract(module, [function], dict(constants))
    return bool(isolated.run(extracted, "applies", {"function": function, "args": args, "kwargs": kwargs},
                             cwd, path))


def refused(wrapper: str, wrapped: str, span: ir.Span) -> Diagnostic:
    return Diagnostic(EVALUATION_REFUSED, f"@{wrapper} decides at compile time whether @{wrapped} applies, "
                      "which runs its code; evaluation is refused", span,
                      hint=f"write @{wrapped} directly, or allow evaluation")


def failed(wrapper: str, wrapped: str, reason: str, span: ir.Span) -> Diagnostic:
    return Diagnostic(EVALUATION_FAILED, f"@{wrapper}, run to decide whether @{wrapped} applies, failed: "
                      f"{reason}", span)


def unresolved(wrapper: str, wrapped: str, reason: str, span: ir.Span) -> Diagnostic:
    return Diagnostic(UNRESOLVED_WRAPPER, f"@{wrapper} may apply @{wrapped}, but flowc cannot tell "
                      f"whether it does: {reason}", span,
                      hint=f"write @{wrapped} directly, or make the condition static")
