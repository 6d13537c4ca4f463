"""A negative retry count."""
from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(times=-1)  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
