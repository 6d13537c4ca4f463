"""Branch inside a switch: the `fan` case splits into p and q and joins; `single` does not."""

from flowc import FlowSpec, Parameter, step


class BranchInSwitchFlow(FlowSpec):
    choice = Parameter("choice", default="fan")

    @step
    def start(self):
        self.next({"fan": self.fan, "single": self.single}, condition="choice")

    @step
    def fan(self):
        self.seed = 5
        self.next(self.p, self.q)

    @step
    def p(self):
        self.part = ("p", self.seed * 2)
        self.next(self.fan_join)

    @step
    def q(self):
        self.part = ("q", self.seed * 3)
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.parts = [inp.part for inp in inputs]
        self.next(self.end)

    @step
    def single(self):
        self.parts = [("single", 1)]
        self.next(self.end)

    @step
    def end(self):
        self.result = dict(self.parts)


if __name__ == "__main__":
    BranchInSwitchFlow()
