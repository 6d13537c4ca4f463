"""An unknown image pull policy."""
from metaflow import FlowSpec, step, kubernetes


class BadFlow(FlowSpec):
    @kubernetes(image_pull_policy="Sometimes")  # E: FLOW056
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
