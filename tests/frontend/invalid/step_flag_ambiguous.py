"""@step(start=True) on one step while another is named start: Metaflow 2.19 refuses the ambiguity."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step(start=True)
    def begin(self):  # E: FLOW018
        self.next(self.end)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
