"""No start step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):  # E: FLOW012
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
