"""Switch: start picks `high` or `low` from the `score` parameter; both cases lead to end."""

from flowc import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    score = Parameter("score", default=72, type=int, help="above 50 takes the high case")

    @step
    def start(self):
        self.grade = "high" if self.score > 50 else "low"
        self.next({"high": self.high, "low": self.low}, condition="grade")

    @step
    def high(self):
        self.path = ["start", "high"]
        self.next(self.end)

    @step
    def low(self):
        self.path = ["start", "low"]
        self.next(self.end)

    @step
    def end(self):
        self.path = self.path + ["end"]
        self.outcome = "%s:%d" % (self.grade, self.score)


if __name__ == "__main__":
    SwitchFlow()
