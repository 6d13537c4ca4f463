"""Parameters of every type: str, int, float, bool, JSON and a separator-split list.

`start` records each value and its Python type; `end` checks that a non-start step sees them too.
"""

from flowc import FlowSpec, JSONType, Parameter, step


class ParametersFlow(FlowSpec):
    who = Parameter("who", default="world", help="a string")
    count = Parameter("count", default=3, type=int, help="an integer")
    ratio = Parameter("ratio", default=0.5, type=float, help="a float")
    verbose = Parameter("verbose", default=False, type=bool, help="a boolean")
    options = Parameter("options", default='{"depth": 2, "tags": ["a", "b"]}', type=JSONType,
                       help="a JSON document")
    colors = Parameter("colors", default="red,green", separator=",", help="a comma-separated list")

    @step
    def start(self):
        self.seen = {
            "who": [self.who, type(self.who).__name__],
            "count": [self.count, type(self.count).__name__],
            "ratio": [self.ratio, type(self.ratio).__name__],
            "verbose": [self.verbose, type(self.verbose).__name__],
            "options": [self.options, type(self.options).__name__],
            "colors": [list(self.colors), type(self.colors).__name__],
        }
        self.next(self.end)

    @step
    def end(self):
        self.greeting = "hello %s x%d" % (self.who, self.count)
        self.scaled = self.count * self.ratio


if __name__ == "__main__":
    ParametersFlow()
