"""@step(start=True) on a step not named start."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):  # E: FLOW012
    @step(start=True)  # E: FLOW019
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
