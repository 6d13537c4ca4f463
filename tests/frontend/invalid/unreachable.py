"""A step nothing leads to."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):  # E: FLOW031
        self.next(self.end)

    @step
    def end(self):
        pass
