"""@retry twice."""
from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry
    @retry(times=1)  # E: FLOW051
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
