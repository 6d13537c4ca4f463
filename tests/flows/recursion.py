"""Recursion: `loop` switches back to itself until its counter reaches the `limit` parameter."""

from flowc import FlowSpec, Parameter, step


class RecursionFlow(FlowSpec):
    limit = Parameter("limit", default=4, type=int)

    @step
    def start(self):
        self.count = 0
        self.history = []
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.history = self.history + [self.count]
        self.state = "again" if self.count < self.limit else "done"
        self.next({"again": self.loop, "done": self.end}, condition="state")

    @step
    def end(self):
        self.final = (self.count, self.history)


if __name__ == "__main__":
    RecursionFlow()
