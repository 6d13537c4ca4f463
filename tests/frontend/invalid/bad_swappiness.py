"""Swappiness above 100."""
from metaflow import FlowSpec, step, batch


class BadFlow(FlowSpec):
    @batch(swappiness=150)  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
