"""A recursive switch inside a foreach whose exit case leads straight into the foreach's join."""

from metaflow import FlowSpec, step


class RecursionExitIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.targets = [2, 1, 3]
        self.next(self.prepare, foreach="targets")

    @step
    def prepare(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.state = "again" if self.count < self.input else "done"
        self.next({"again": self.loop, "done": self.join}, condition="state")

    @step
    def join(self, inputs):
        self.counts = [inp.count for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RecursionExitIntoJoinFlow()
