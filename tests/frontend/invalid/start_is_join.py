"""start takes inputs."""
from metaflow import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self, inputs):  # E: FLOW017
        self.next(self.end)

    @step
    def end(self):
        pass
