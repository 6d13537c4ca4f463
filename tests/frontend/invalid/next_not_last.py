"""Code after self.next."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)  # E: FLOW023
        print("after")

    @step
    def end(self):
        pass
