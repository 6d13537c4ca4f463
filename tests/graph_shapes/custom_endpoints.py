"""Custom first and last steps (Metaflow 2.19): @step(start=True) / @step(end=True) on steps with
other names; the start step receives the parameters, the end step ends the run."""
from metaflow import FlowSpec, Parameter, step


class CustomEndpointsFlow(FlowSpec):
    greeting = Parameter("greeting", default="hello")

    @step(start=True)
    def begin(self):
        self.words = [self.greeting, "world"]
        self.next(self.upper, self.lower)

    @step
    def upper(self):
        self.text = " ".join(self.words).upper()
        self.next(self.join)

    @step
    def lower(self):
        self.text = " ".join(self.words).lower()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.texts = sorted(i.text for i in inputs)
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.summary = f"{self.greeting}: {len(self.texts)}"


if __name__ == "__main__":
    CustomEndpointsFlow()
