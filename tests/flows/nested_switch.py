"""Nested switch: start switches on `size`; the `big` case switches again on `color`."""

from flowc import FlowSpec, Parameter, step


class NestedSwitchFlow(FlowSpec):
    size = Parameter("size", default="big")
    color = Parameter("color", default="blue")

    @step
    def start(self):
        self.path = ["start"]
        self.next({"big": self.big, "small": self.small}, condition="size")

    @step
    def big(self):
        self.path = self.path + ["big"]
        self.next({"red": self.big_red, "blue": self.big_blue}, condition="color")

    @step
    def big_red(self):
        self.path = self.path + ["big_red"]
        self.next(self.big_done)

    @step
    def big_blue(self):
        self.path = self.path + ["big_blue"]
        self.next(self.big_done)

    @step
    def big_done(self):
        self.path = self.path + ["big_done"]
        self.next(self.end)

    @step
    def small(self):
        self.path = self.path + ["small"]
        self.next(self.end)

    @step
    def end(self):
        self.path = self.path + ["end"]


if __name__ == "__main__":
    NestedSwitchFlow()
