"""foreach= names an attribute no step on the way assigns: every run would fail there."""
from metaflow import FlowSpec, Parameter, step


class BadFlow(FlowSpec):
    sizes = Parameter("sizes", default="1,2")

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="itms")  # E: FLOW024

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.each_size, foreach="sizes")

    @step
    def each_size(self):
        self.next(self.join_sizes)

    @step
    def join_sizes(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
