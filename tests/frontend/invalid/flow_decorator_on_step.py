"""@schedule on a step."""
from metaflow import FlowSpec, step, schedule


class BadFlow(FlowSpec):
    @schedule(daily=True)  # E: FLOW059
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
