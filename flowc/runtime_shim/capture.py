"""Capturing a task's stdout/stderr while still showing them (container logs stay useful).

Two levels: ``capture_output()`` swaps ``sys.stdout``/``sys.stderr`` (cheap, in-process callers);
``capture_output(fd_level=True)`` redirects file descriptors 1 and 2 through pipes, so output of
C extensions and child processes (``os.system``, ``subprocess``) is stored too. The shim's
command line uses the second.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
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


def _pump(read_fd: int, echo_fd: int | None, sink: io.BytesIO) -> None:
    while True:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        sink.write(chunk)
        if echo_fd is not None:
            try:
                os.write(echo_fd, chunk)
            except OSError:
                echo_fd = None
    os.close(read_fd)


@contextlib.contextmanager
def _capture_fds(echo: bool) -> Iterator[Captured]:
    captured = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    saved: dict[int, int] = {}
    pumps: list[threading.Thread] = []
    for fd, sink in ((1, captured.stdout), (2, captured.stderr)):
        saved[fd] = os.dup(fd)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)
        os.close(write_fd)
        pump = threading.Thread(target=_pump, args=(read_fd, saved[fd] if echo else None, sink),
                                daemon=True, name=f"flowc-capture-{fd}")
        pump.start()
        pumps.append(pump)
    try:
        yield captured
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)  # closes the pipe's last write end we hold: the pump sees EOF
        for pump in pumps:
            pump.join(timeout=5)  # a still-running grandchild may hold the pipe open
        for original in saved.values():
            os.close(original)


@contextlib.contextmanager
def capture_output(echo: bool = True, fd_level: bool = False) -> Iterator[Captured]:
    """Capture stdout/stderr into the yielded object's ``stdout``/``stderr`` (BytesIO)."""
    if fd_level:
        with _capture_fds(echo) as captured:
            yield captured
        return
    captured = Captured()
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = _Tee(old_out if echo else None, captured.stdout)
    sys.stderr = _Tee(old_err if echo else None, captured.stderr)
    try:
        yield captured
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = old_out, old_err
