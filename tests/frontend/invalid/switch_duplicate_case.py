"""The same case key twice."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.x = "a"
        self.next({"a": self.a, "a": self.end}, condition="x")  # E: FLOW021

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
