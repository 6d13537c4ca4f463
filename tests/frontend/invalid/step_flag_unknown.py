"""@step with an unknown argument."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step(first=True)  # E: FLOW019
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
