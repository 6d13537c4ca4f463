"""A switch with a single case."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.x = "a"
        self.next({"a": self.end}, condition="x")  # E: FLOW026

    @step
    def end(self):
        pass
