"""A step without a transition."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):  # E: FLOW020
        self.x = 1

    @step
    def end(self):
        pass
