"""num_parallel to a step without @parallel."""
from metaflow import FlowSpec, parallel, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)  # E: FLOW040

    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
