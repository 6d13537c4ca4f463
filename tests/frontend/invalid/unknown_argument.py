"""A misspelled @resources argument."""
from metaflow import FlowSpec, step, resources


class BadFlow(FlowSpec):
    @resources(memroy=1024)  # E: FLOW053
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
