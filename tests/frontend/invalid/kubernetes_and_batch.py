"""Both compute decorators."""
from metaflow import FlowSpec, step, batch, kubernetes


class BadFlow(FlowSpec):
    @kubernetes
    @batch  # E: FLOW061
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
