"""type=list is not a parameter type."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter("alpha", type=list)  # E: FLOW073

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
