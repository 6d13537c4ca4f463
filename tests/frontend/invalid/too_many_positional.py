"""@retry takes two positional arguments."""
from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(1, 2, 3)  # E: FLOW060
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
