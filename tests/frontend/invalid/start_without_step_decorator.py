"""start lacks @step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):  # E: FLOW012
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
