from metaflow import FlowSpec, Parameter, step


class ClientDocsFlow(FlowSpec):
    """A flow with a foreach and a join, for the client script to walk."""

    alpha = Parameter("alpha", default=2)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input ** self.alpha
        print("squared", self.value)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.message = "done"


if __name__ == "__main__":
    ClientDocsFlow()
