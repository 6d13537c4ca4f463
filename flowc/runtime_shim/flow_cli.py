"""``python flow.py run ...``: what ``FlowSpec()`` does under ``if __name__ == "__main__"``.

Forwards to the ``flowc`` command with the flow's file, turning Metaflow-style parameter options
(``--alpha 0.5``) into ``--param alpha=0.5``.
"""

from __future__ import annotations

import sys
from typing import Sequence

from flowc.parameters import Parameter


def translate(flow_cls: type, args: Sequence[str]) -> list[str]:
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


def main_from_flow(flow_cls: type, argv: Sequence[str]) -> None:
    module = sys.modules.get(flow_cls.__module__)
    path = getattr(module, "__file__", None) or argv[0]
    if len(argv) < 2:
        raise SystemExit(f"usage: python {argv[0]} run [--PARAM VALUE ...] (or use: flowc run {path})")
    command, rest = argv[1], list(argv[2:])
    from flowc.cli import main

    main(args=[command, path, *translate(flow_cls, rest)]
         if command == "run" else [command, path, *rest])
