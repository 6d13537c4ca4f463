"""A misspelled decorator the module never binds is a NameError at load time: an error. A name
that is imported or defined but unknown to flowc stays a warning."""
import functools

from metaflow import FlowSpec, step

try:
    from my_helpers import timing
except ImportError:
    def timing(f):
        return f


class BadFlow(FlowSpec):
    @retyr(times=2)  # E: FLOW063
    @step
    def start(self):
        self.next(self.middle)

    @functools.lru_cache  # W: FLOW052
    @timing  # W: FLOW052
    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
