"""A name bound twice is not a constant."""
TIMES = 1
TIMES = 2

from metaflow import FlowSpec, step, retry


class BadFlow(FlowSpec):
    @retry(times=TIMES)  # E: FLOW054
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
