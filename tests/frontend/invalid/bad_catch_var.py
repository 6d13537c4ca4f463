"""@catch(var=...) must be an identifier."""
from metaflow import FlowSpec, step, catch


class BadFlow(FlowSpec):
    @catch(var="my error")  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
