"""A dict of cases but no condition."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.a, "b": self.end})  # E: FLOW021

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
