"""A bare name instead of self.<step>."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(end)  # E: FLOW021

    @step
    def end(self):
        pass
