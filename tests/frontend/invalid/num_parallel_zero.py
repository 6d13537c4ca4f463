"""num_parallel must be positive."""
from metaflow import FlowSpec, parallel, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=0)  # E: FLOW021

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
