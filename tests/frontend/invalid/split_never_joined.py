"""A foreach that reaches end."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.a, foreach="items")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):  # E: FLOW034
        pass
