"""times by position and keyword."""
from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(3, times=2)  # E: FLOW062
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
