"""No end step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):  # E: FLOW013
    @step
    def start(self):
        self.next(self.end)  # E: FLOW022
