"""Recursion inside a foreach: each body counts up to its own target before the join."""

from flowc import FlowSpec, step


class RecursionInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.targets = [2, 1, 3]
        self.next(self.prepare, foreach="targets")

    @step
    def prepare(self):
        self.target = self.input
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.state = "again" if self.count < self.target else "done"
        self.next({"again": self.loop, "done": self.finish}, condition="state")

    @step
    def finish(self):
        self.report = (self.index, self.target, self.count)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.reports = [inp.report for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(r[2] for r in self.reports)


if __name__ == "__main__":
    RecursionInForeachFlow()
