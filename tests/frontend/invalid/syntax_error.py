"""A missing colon."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self)  # E: FLOW003
        self.next(self.end)

    @step
    def end(self):
        pass
