"""@retry on the class."""
from metaflow import FlowSpec, step, retry


@retry  # E: FLOW059
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
