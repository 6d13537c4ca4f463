"""The same step twice."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def start(self):  # E: FLOW014
        self.next(self.end)

    @step
    def end(self):
        pass
