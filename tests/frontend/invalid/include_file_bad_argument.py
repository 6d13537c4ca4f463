"""IncludeFile has no type=."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    data = IncludeFile("data", type=str)  # E: FLOW073

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
