"""A switch may loop only to itself."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.again = True
        self.next({"again": self.a, "done": self.end}, condition="again")  # E: FLOW030

    @step
    def end(self):
        pass
