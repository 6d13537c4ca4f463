"""Switch inside a foreach: each number takes the `even` or `odd` case, then all are joined."""

from flowc import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3, 4, 7]
        self.next(self.classify, foreach="numbers")

    @step
    def classify(self):
        self.number = self.input
        self.parity = "even" if self.input % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="parity")

    @step
    def even(self):
        self.result = self.number // 2
        self.next(self.collect)

    @step
    def odd(self):
        self.result = 3 * self.number + 1
        self.next(self.collect)

    @step
    def collect(self):
        self.entry = "%d:%s:%d" % (self.number, self.parity, self.result)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.entries = [inp.entry for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.count = len(self.entries)


if __name__ == "__main__":
    SwitchInForeachFlow()
