"""A parameter attribute named like a step."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    a = Parameter("a")  # E: FLOW075

    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass
