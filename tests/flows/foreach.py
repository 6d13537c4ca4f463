"""Foreach: start fans out over five items; the join collects them in split-index order."""

from flowc import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [3, 1, 4, 1, 5]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.item = self.input
        self.position = self.index
        self.squared = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [inp.squared for inp in inputs]
        self.positions = [inp.position for inp in inputs]
        self.items = inputs[0].items
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)


if __name__ == "__main__":
    ForeachFlow()
