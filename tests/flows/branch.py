"""Static branch: start -> (left, middle, right) -> join -> end.

The join records its inputs in order, reads one branch by name and one by position.
"""

from flowc import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.left, self.middle, self.right)

    @step
    def left(self):
        self.label = "L"
        self.value = self.base + 1
        self.next(self.join)

    @step
    def middle(self):
        self.label = "M"
        self.value = self.base + 2
        self.next(self.join)

    @step
    def right(self):
        self.label = "R"
        self.value = self.base + 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.labels = [inp.label for inp in inputs]
        self.values = [inp.value for inp in inputs]
        self.middle_by_name = inputs.middle.value
        self.first_by_position = inputs[0].label
        self.base = inputs.left.base
        self.next(self.end)

    @step
    def end(self):
        self.summary = "".join(self.labels) + ":" + str(sum(self.values) + self.base)


if __name__ == "__main__":
    BranchFlow()
