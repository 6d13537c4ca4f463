"""Branches merging in a non-join step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.c)

    @step
    def b(self):
        self.next(self.c)

    @step
    def c(self):  # E: FLOW038
        self.next(self.end)

    @step
    def end(self):
        pass
