"""``python flow.py run ...``: what ``FlowSpec()`` does under ``if __name__ == "__main__"``.

The process becomes ``flowc COMMAND flow.py ...`` (an exec, so exit code, signals and output are
the command's own), with Metaflow-style parameter options (``--alpha 0.5``) turned into ``--param
alpha=0.5``. Exec rather than import keeps the authoring API, which containers import, free of
the command line and click; the flow as imported here is not needed, as flowc compiles the file.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn, Sequence

from flowc.parameters import Parameter


def translate(flow_cls: type, args: Sequence[str]) -> list[str]:
    """``--NAME VALUE`` / ``--NAME=VALUE`` for the flow's parameters -> ``--param NAME=VALUE``."""
    names = {obj.name for klass in flow_cls.__mro__ for obj in vars(klass).values()
             if isinstance(obj, Parameter)}
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name in names or name.replace("-", "_") in names:
            if not sep:
                if i + 1 >= len(args):
                    raise SystemExit(f"option --{name} needs a value")
                value = args[i + 1]
                i += 1
            out += ["--param", f"{name}={value}"]
        else:
            out.append(arg)
        i += 1
    return out


def flowc_argv(flow_cls: type, argv: Sequence[str]) -> list[str]:
    """The ``flowc`` arguments for ``python flow.py COMMAND ...`` (``argv`` is ``sys.argv``)."""
    module = sys.modules.get(flow_cls.__module__)
    path = getattr(module, "__file__", None) or argv[0]
    if len(argv) < 2:
        raise SystemExit(f"usage: python {argv[0]} run [--PARAM VALUE ...] (or use: flowc run {path})")
    command, rest = argv[1], list(argv[2:])
    return [command, path, *(translate(flow_cls, rest) if command == "run" else rest)]


def main_from_flow(flow_cls: type, argv: Sequence[str]) -> NoReturn:
    """Replace this process with the ``flowc`` command for ``argv``."""
    args = flowc_argv(flow_cls, argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "flowc.cli", *args])
