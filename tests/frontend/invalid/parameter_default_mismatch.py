"""type=int with a word."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter("alpha", type=int, default="ten")  # E: FLOW074

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
