"""AWS form without '?'."""
from metaflow import FlowSpec, step, schedule


@schedule(cron="0 12 * * MON *")  # E: FLOW057
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
