"""Capturing a task's stdout/stderr while still showing them (container logs stay useful)."""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any, Iterator


class _Tee(io.TextIOBase):
    def __init__(self, original: Any, sink: io.BytesIO):
        self.original = original
        self.sink = sink

    def write(self, text: str) -> int:
        self.sink.write(text.encode("utf-8", "replace"))
        if self.original is not None:
            self.original.write(text)
        return len(text)

    def flush(self) -> None:
        if self.original is not None:
            self.original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class Captured:
    def __init__(self) -> None:
        self.stdout = io.BytesIO()
        self.stderr = io.BytesIO()


@contextlib.contextmanager
def capture_output(echo: bool = True) -> Iterator[Captured]:
    """Swap ``sys.stdout``/``sys.stderr`` for tees; the captured bytes are on the yielded object."""
    captured = Captured()
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = _Tee(old_out if echo else None, captured.stdout)  # type: ignore[assignment]
    sys.stderr = _Tee(old_err if echo else None, captured.stderr)  # type: ignore[assignment]
    try:
        yield captured
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = old_out, old_err
