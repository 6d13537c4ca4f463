"""A branch that skips the join."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.end)

    @step
    def join(self, inputs):  # E: FLOW033
        self.next(self.end)

    @step
    def end(self):  # E: FLOW034
        pass
