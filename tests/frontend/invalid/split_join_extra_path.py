"""Three paths into a two-branch join."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.kind = "c"
        self.next({"c": self.c, "d": self.d}, condition="kind")

    @step
    def c(self):
        self.next(self.join)

    @step
    def d(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # E: FLOW033
        self.next(self.end)

    @step
    def end(self):
        pass
