"""A timeout of nothing."""
from metaflow import FlowSpec, step, timeout


class BadFlow(FlowSpec):
    @timeout  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
