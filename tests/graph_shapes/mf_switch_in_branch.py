"""Metaflow's switch_in_branch graph: a's switch cases c and d go straight into the join."""

from metaflow import FlowSpec, Parameter, step


class MfSwitchInBranchFlow(FlowSpec):
    case = Parameter("case", default="case1")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.condition = self.case
        self.next({"case1": self.c, "case2": self.d}, condition="condition")

    @step
    def b(self):
        self.seen = "b"
        self.next(self.join)

    @step
    def c(self):
        self.seen = "c"
        self.next(self.join)

    @step
    def d(self):
        self.seen = "d"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen_all = sorted(inp.seen for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MfSwitchInBranchFlow()
