"""What every fuzz case asserts: a bad input ends in a short error and a non-zero exit, never a
traceback, an exception escaping the command, a hang or a signal."""

from __future__ import annotations

import contextlib
import re
import signal
from typing import Any, Iterator

CASE_SECONDS = 20
ERROR_LINE = re.compile(r"^(flowc: error: .+|.+: error: .+ \[FLOW\d{3}\]|Error: .+|Aborted!)$", re.M)
COUNTS: dict[str, int] = {}  # suite name -> bad inputs that ended in a clean error
# The least each suite proves per run (its test asserts it); test_volume.py adds them up.
SHARES = {"cli-corpus": 50, "cli-generated": 150, "flows-corpus": 15, "flows-generated": 200,
          "answers-corpus": 16, "answers-generated": 100}


class Hung(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Fail a case that runs longer than ``seconds`` (an in-process hang, e.g. reading a FIFO)."""
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f"case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_clean_failure(exit_code: int, stderr: str, exception: BaseException | None, case: Any,
                         suite: str) -> None:
    """``exit_code`` 0 (the input happened to be fine) or an error the user can read."""
    assert exception is None or isinstance(exception, SystemExit), (case, repr(exception))
    assert "Traceback" not in stderr, (case, stderr[-3000:])
    if exit_code == 0:
        return
    assert exit_code == 1, (case, exit_code, stderr[-3000:])
    assert ERROR_LINE.search(stderr), (case, stderr[-3000:])
    assert len(stderr) < 20_000, (case, len(stderr))  # never the whole input echoed back
    COUNTS[suite] = COUNTS.get(suite, 0) + 1
