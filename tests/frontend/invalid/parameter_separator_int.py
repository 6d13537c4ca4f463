"""separator on an int parameter."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, separator=",")  # E: FLOW074

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
