"""Milli-bytes of disk."""
from metaflow import FlowSpec, step, kubernetes


class BadFlow(FlowSpec):
    @kubernetes(disk="10m")  # E: FLOW058
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
