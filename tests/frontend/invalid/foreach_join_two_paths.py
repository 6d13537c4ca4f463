"""Switch paths reach a foreach join separately."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.a, foreach="items")

    @step
    def a(self):
        self.kind = "b"
        self.next({"b": self.b, "c": self.c}, condition="kind")

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # E: FLOW033
        self.next(self.end)

    @step
    def end(self):
        pass
