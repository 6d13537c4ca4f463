"""An unknown decorator is a warning; the typo'd argument an error."""
import functools

from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @functools.lru_cache  # W: FLOW052
    @retry(time=2)  # E: FLOW053
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
