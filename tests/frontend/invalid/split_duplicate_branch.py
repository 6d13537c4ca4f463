"""The same branch twice."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.a)  # E: FLOW021

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
