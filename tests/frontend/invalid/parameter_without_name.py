"""Parameter(default=...) only."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter(default=1)  # E: FLOW072

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
