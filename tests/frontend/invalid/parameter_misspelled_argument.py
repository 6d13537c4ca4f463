"""defualt=."""
from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class BadFlow(FlowSpec):
    alpha = Parameter("alpha", defualt=1)  # E: FLOW073

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
