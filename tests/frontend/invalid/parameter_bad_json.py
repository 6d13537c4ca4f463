"""A JSON default that is not JSON."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    cfg = Parameter("cfg", type=JSONType, default="{oops")  # E: FLOW074

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
