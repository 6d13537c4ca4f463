"""Project names are lowercase."""
from metaflow import FlowSpec, step, project


@project(name="My Project")  # E: FLOW056
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
