"""Uppercase step names."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.Train)

    @step
    def Train(self):  # E: FLOW011
        self.next(self.end)

    @step
    def end(self):
        pass
