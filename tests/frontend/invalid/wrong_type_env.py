"""environment vars must be a dict of strings."""
from metaflow import FlowSpec, step, environment


class BadFlow(FlowSpec):
    @environment(vars=["A=1"])  # E: FLOW055
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
