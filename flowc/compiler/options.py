"""What a compile may read or run besides the flow file's syntax: config overrides, extra import
roots, and whether code (parser functions, mutators) may be evaluated at all.

The CLI sets these once per command (``using``); every ``compile_file`` underneath (compile, run,
deploy, the local runner) picks them up from ``current()``, so no call site has to thread them.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class CompileOptions:
    # ``--config NAME PATH``: (name, path) pairs; ``--config-value NAME TEXT``: (name, text)
    config_files: tuple[tuple[str, str], ...] = ()
    config_values: tuple[tuple[str, str], ...] = ()
    # extra roots for project-local imports (``--pythonpath``), besides the flow's directory
    # and the project root
    pythonpath: tuple[str, ...] = ()
    # False: refuse to run any code at compile time (parser functions, mutators), with a
    # diagnostic naming the construct
    evaluate_code: bool = True
    # deploy-time environment reads answered from here before os.environ (None: unset); what
    # ``compile --check`` uses to recompile with the values a committed spec was built with
    environment: tuple[tuple[str, str | None], ...] = ()

    def fingerprint(self) -> str:
        """A stable text for cache keys."""
        return repr((self.config_files, self.config_values, self.pythonpath, self.evaluate_code, self.environment))


DEFAULT = CompileOptions()
_CURRENT: contextvars.ContextVar[CompileOptions] = contextvars.ContextVar("flowc_compile_options",
                                                                          default=DEFAULT)


def current() -> CompileOptions:
    return _CURRENT.get()


@contextlib.contextmanager
def using(options: CompileOptions) -> Iterator[CompileOptions]:
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
