"""Written `from metaflow import ...`: runs on flowc's API whether or not Metaflow is installed."""

from metaflow import FlowSpec, Parameter, current, step


class MetaflowStyleFlow(FlowSpec):
    factor = Parameter("factor", default=2, type=int)

    @step
    def start(self):
        self.flow_seen = current.flow_name
        self.chunks = [[1, 2], [3], [4, 5, 6]]
        self.next(self.total, foreach="chunks")

    @step
    def total(self):
        self.subtotal = sum(self.input) * self.factor
        self.next(self.join)

    @step
    def join(self, inputs):
        self.subtotals = [inp.subtotal for inp in inputs]
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left:%d" % sum(self.subtotals)
        self.next(self.merge)

    @step
    def right(self):
        self.side = "right:%d" % max(self.subtotals)
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.sides = [inp.side for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.step_seen = current.step_name


if __name__ == "__main__":
    MetaflowStyleFlow()
