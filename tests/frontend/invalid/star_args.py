"""A step taking *args."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self, *args):  # E: FLOW015
        self.next(self.end)

    @step
    def end(self):
        pass
