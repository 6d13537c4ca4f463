"""Linear: start -> a -> b -> end; every step appends to a trace."""

from flowc import FlowSpec, step


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.x = 1
        self.next(self.a)

    @step
    def a(self):
        self.trace = self.trace + ["a"]
        self.x = self.x * 10 + 2
        self.next(self.b)

    @step
    def b(self):
        self.trace = self.trace + ["b"]
        self.x = self.x * 10 + 3
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {"x": self.x, "trace": self.trace}


if __name__ == "__main__":
    LinearFlow()
