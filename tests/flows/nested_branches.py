"""Nested branches: start -> (a -> (a1, a2) -> a_join, b) -> join -> end."""

from flowc import FlowSpec, step


class NestedBranchesFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.a, self.b)

    @step
    def a(self):
        self.trace = self.trace + ["a"]
        self.next(self.a1, self.a2)

    @step
    def a1(self):
        self.trace = self.trace + ["a1"]
        self.next(self.a_join)

    @step
    def a2(self):
        self.trace = self.trace + ["a2"]
        self.next(self.a_join)

    @step
    def a_join(self, inputs):
        self.trace = [inp.trace for inp in inputs]
        self.next(self.join)

    @step
    def b(self):
        self.trace = self.trace + ["b"]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.traces = [inp.trace for inp in inputs]
        self.inner = inputs.a_join.trace
        self.next(self.end)

    @step
    def end(self):
        self.count = len(self.traces)


if __name__ == "__main__":
    NestedBranchesFlow()
