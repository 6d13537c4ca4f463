"""A join argument with a default."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs=None):  # E: FLOW015
        self.next(self.end)

    @step
    def end(self):
        pass
