"""A transition to a method that lacks @step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.helper)  # E: FLOW022

    def helper(self):
        self.next(self.end)

    @step
    def end(self):
        pass
