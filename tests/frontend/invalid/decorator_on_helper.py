"""@retry on a method without @step."""
from metaflow import FlowSpec, retry, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @retry  # E: FLOW059
    def helper(self):
        return 1

    @step
    def end(self):
        pass
