"""A parameter named tags."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    tags = Parameter("tags")  # E: FLOW070

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
