"""Two parameters named alpha."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("alpha", default=2)  # E: FLOW071

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
