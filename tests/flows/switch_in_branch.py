"""Switch inside a branch: start -> (a: switch fast/slow -> a_done, b) -> join -> end."""

from flowc import FlowSpec, Parameter, step


class SwitchInBranchFlow(FlowSpec):
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.route = ["a"]
        self.next({"fast": self.a_fast, "slow": self.a_slow}, condition="mode")

    @step
    def a_fast(self):
        self.route = self.route + ["a_fast"]
        self.next(self.a_done)

    @step
    def a_slow(self):
        self.route = self.route + ["a_slow"]
        self.next(self.a_done)

    @step
    def a_done(self):
        self.route = self.route + ["a_done"]
        self.next(self.join)

    @step
    def b(self):
        self.route = ["b"]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.routes = [inp.route for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.mode_seen = self.mode


if __name__ == "__main__":
    SwitchInBranchFlow()
