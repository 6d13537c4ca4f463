"""A foreach straight into its join."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.join, foreach="items")  # E: FLOW036

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
