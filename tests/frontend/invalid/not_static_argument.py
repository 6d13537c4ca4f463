"""A decorator argument computed by a call."""
import os

from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(times=int(os.environ['N']))  # E: FLOW054
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
