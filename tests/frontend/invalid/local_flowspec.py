"""FlowSpec defined locally is not metaflow's: resolved by qualified name."""
# E@file: FLOW004
from metaflow import step


class FlowSpec:
    pass


class Fake(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
