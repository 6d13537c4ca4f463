"""A step called index."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.index)

    @step
    def index(self):  # E: FLOW010
        self.next(self.end)

    @step
    def end(self):
        pass
