"""A join after a linear step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # E: FLOW032
        self.next(self.end)

    @step
    def end(self):
        pass
