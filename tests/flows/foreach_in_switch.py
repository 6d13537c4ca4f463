"""Foreach inside a switch: the `many` case fans out over items; the `one` case does not."""

from flowc import FlowSpec, Parameter, step


class ForeachInSwitchFlow(FlowSpec):
    choice = Parameter("choice", default="many")

    @step
    def start(self):
        self.next({"many": self.fan, "one": self.one}, condition="choice")

    @step
    def fan(self):
        self.items = ["u", "v", "w", "x"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.done = "%s%d" % (self.input, self.index)
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.results = [inp.done for inp in inputs]
        self.next(self.end)

    @step
    def one(self):
        self.results = ["only"]
        self.next(self.end)

    @step
    def end(self):
        self.count = len(self.results)


if __name__ == "__main__":
    ForeachInSwitchFlow()
