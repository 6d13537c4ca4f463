"""The name comes from a call."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter(str(1))  # E: FLOW072

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
