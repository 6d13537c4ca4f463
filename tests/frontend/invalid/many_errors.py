"""Every independent problem of a file is reported at once."""
from metaflow import FlowSpec, resources, retry, schedule, step


@schedule(cron="* * *")  # E: FLOW057
class BadFlow(FlowSpec):
    @retry(times=-2)  # E: FLOW056
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.jion)  # E: FLOW022

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @resources(memory="lots")  # E: FLOW058
    @step
    def end(self):
        pass
