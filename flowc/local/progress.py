"""Live progress of a local run: per step, tasks done / running / failed.

On a terminal the block of per-step lines is redrawn in place (at most a few times a second); on
anything else (CI logs, pipes) each task event is one plain, timestamped line, so logs stay
readable and diffable.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import TextIO

_REDRAW_SECONDS = 0.15


@dataclass(slots=True)
class StepCounts:
    done: int = 0
    running: int = 0
    failed: int = 0
    retried: int = 0


class Progress:
    def __init__(self, stream: TextIO, steps: tuple[str, ...], live: bool | None = None,
                 title: str = ""):
        self.stream = stream
        self.title = title
        self.steps = steps
        self.counts = {name: StepCounts() for name in steps}
        self.live = stream.isatty() if live is None else live
        self._drawn_lines = 0
        self._last_draw = 0.0
        self._started = time.monotonic()

    # ------------------------------------------------------------------ events

    def message(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._draw(force=True)

    def started(self, step: str, task: str, attempt: int) -> None:
        self.counts[step].running += 1
        if not self.live:
            suffix = f" (attempt {attempt})" if attempt else ""
            self._line(f"{step}/{task} started{suffix}")
        self._draw()

    def finished(self, step: str, task: str, attempt: int, elapsed: float, outcome: str,
                 detail: str = "") -> None:
        """``outcome`` is ``done``, ``cloned``, ``retrying`` or ``failed``."""
        counts = self.counts[step]
        if outcome != "cloned":
            counts.running -= 1
        if outcome in ("done", "cloned"):
            counts.done += 1
        elif outcome == "retrying":
            counts.retried += 1
        else:
            counts.failed += 1
        if not self.live or outcome in ("failed", "retrying"):
            suffix = f": {detail}" if detail else ""
            self._emit(f"{step}/{task} {outcome} (attempt {attempt}, {elapsed:.2f}s){suffix}")
        self._draw()

    def tick(self) -> None:
        self._draw()

    def close(self) -> None:
        """Take the live block off the screen; the caller prints the final summary."""
        self._clear()
        self.stream.flush()

    # ------------------------------------------------------------------ rendering

    def _line(self, text: str) -> None:
        stamp = time.monotonic() - self._started
        self.stream.write(f"[{stamp:7.2f}s] {text}\n")
        self.stream.flush()

    def _emit(self, text: str) -> None:
        if self.live:
            self._clear()
            self._line(text)
            self._draw(force=True)
        else:
            self._line(text)

    def summary_lines(self) -> list[str]:
        width = max(len(name) for name in self.steps)
        lines = []
        for name in self.steps:
            c = self.counts[name]
            if not (c.done or c.running or c.failed):
                continue
            extra = f", {c.retried} retried" if c.retried else ""
            lines.append(f"  {name:<{width}}  {c.done} done, {c.running} running, {c.failed} failed{extra}")
        return lines

    def _clear(self) -> None:
        if self.live and self._drawn_lines:
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self._drawn_lines = 0

    def _draw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _REDRAW_SECONDS:
            return
        self._last_draw = now
        self._clear()
        lines = self.summary_lines()
        # Cursor-up redraws only work within the screen: never draw more lines than fit.
        room = max(3, shutil.get_terminal_size((80, 24)).lines - 2)
        if len(lines) > room:
            hidden = len(lines) - room + 1
            lines = lines[:room - 1] + [f"  ... {hidden} more step(s)"]
        if self.title:
            lines.insert(0, f"{self.title}  {now - self._started:.1f}s")
        if lines:
            self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn_lines = len(lines)
