"""A flow of one bare @step: Metaflow 2.19 makes it both the start and the end step."""
from metaflow import FlowSpec, Parameter, step


class SingleStepFlow(FlowSpec):
    size = Parameter("size", default=3, type=int)

    @step
    def only(self):
        self.squares = [i * i for i in range(self.size)]


if __name__ == "__main__":
    SingleStepFlow()
