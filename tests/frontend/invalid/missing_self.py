"""A step without self."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start():  # E: FLOW015
        self.next(self.end)

    @step
    def end(self):
        pass
