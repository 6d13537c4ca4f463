"""Three-level nested foreach: 2 letters x 2 numbers x 3 symbols, joined level by level."""

from flowc import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = [1, 2]
        self.next(self.mid, foreach="numbers")

    @step
    def mid(self):
        self.number = self.input
        self.symbols = ["x", "y", "z"][: 1 + self.number]
        self.next(self.inner, foreach="symbols")

    @step
    def inner(self):
        self.tag = "%s%d%s@%d" % (self.letter, self.number, self.input, self.index)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.tags = [inp.tag for inp in inputs]
        self.next(self.mid_join)

    @step
    def mid_join(self, inputs):
        self.tags = [inp.tags for inp in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.tags = [inp.tags for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.flat = [tag for per_letter in self.tags for per_number in per_letter for tag in per_number]


if __name__ == "__main__":
    NestedForeachFlow()
