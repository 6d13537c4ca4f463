"""4GB is not a quantity."""
from metaflow import FlowSpec, step, resources


class BadFlow(FlowSpec):
    @resources(memory="4GB")  # E: FLOW058
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
