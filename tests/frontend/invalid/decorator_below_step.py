"""@retry under @step."""
from metaflow import FlowSpec, retry, step


class BadFlow(FlowSpec):
    @step
    @retry  # E: FLOW050
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
