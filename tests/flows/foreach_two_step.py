"""Foreach with a two-step body: start -> (prepare -> finish) per item -> join -> end."""

from flowc import FlowSpec, step


class ForeachTwoStepFlow(FlowSpec):
    @step
    def start(self):
        self.words = ["alpha", "beta", "gamma"]
        self.next(self.prepare, foreach="words")

    @step
    def prepare(self):
        self.word = self.input
        self.upper = self.input.upper()
        self.next(self.finish)

    @step
    def finish(self):
        self.pair = (self.index, self.word, self.upper + "!")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.pairs = [inp.pair for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.joined = " ".join(p[2] for p in self.pairs)


if __name__ == "__main__":
    ForeachTwoStepFlow()
