"""self.next() with no step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next()  # E: FLOW021

    @step
    def end(self):
        pass
