"""Two transitions in one step."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        if self.flag:
            self.next(self.end)  # E: FLOW023
        self.next(self.end)

    @step
    def end(self):
        pass
