"""cpu=0."""
from metaflow import FlowSpec, step, resources


class BadFlow(FlowSpec):
    @resources(cpu=0)  # E: FLOW058
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
