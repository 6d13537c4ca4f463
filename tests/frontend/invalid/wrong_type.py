"""A string where an integer is needed."""
from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(times="3")  # E: FLOW055
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
