"""An environment variable name with a space."""
from metaflow import FlowSpec, step, environment


class BadFlow(FlowSpec):
    @environment(vars={"MY VAR": "1"})  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
