"""Inside a branch, one switch case leads straight into the join and the other through a step."""

from metaflow import FlowSpec, Parameter, step


class SwitchCaseIntoJoinFlow(FlowSpec):
    kind = Parameter("kind", default="x")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.seen = "a"
        self.choice = self.kind
        self.next({"x": self.join, "y": self.c}, condition="choice")

    @step
    def c(self):
        self.seen = "c"
        self.next(self.join)

    @step
    def b(self):
        self.seen = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen_all = sorted(inp.seen for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchCaseIntoJoinFlow()
