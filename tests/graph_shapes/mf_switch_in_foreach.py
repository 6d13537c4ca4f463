"""Metaflow's switch_in_foreach graph: the switch's cases go straight into the foreach's join."""

from metaflow import FlowSpec, step


class MfSwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "a", "b", "b"]
        self.next(self.process_item, foreach="items")

    @step
    def process_item(self):
        self.item_type = "type_" + self.input
        self.next({"type_a": self.handle_a, "type_b": self.handle_b}, condition="item_type")

    @step
    def handle_a(self):
        self.handled = "A%d" % self.index
        self.next(self.join)

    @step
    def handle_b(self):
        self.handled = "B%d" % self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.handled_all = [inp.handled for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MfSwitchInForeachFlow()
