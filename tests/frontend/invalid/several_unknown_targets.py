"""All unknown targets at once."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left,  # E: FLOW022
                  self.right)  # E: FLOW022

    @step
    def end(self):
        pass
