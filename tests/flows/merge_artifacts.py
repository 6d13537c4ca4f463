"""merge_artifacts: equal values merge, a conflict is excluded, per-branch values pass through."""

from flowc import FlowSpec, step


class MergeArtifactsFlow(FlowSpec):
    @step
    def start(self):
        self.common = "from-start"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.conflict = "a"
        self.only_a = 1
        self.same = [1, 2]
        self.next(self.join)

    @step
    def b(self):
        self.conflict = "b"
        self.only_b = 2
        self.same = [1, 2]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.conflicts = [inp.conflict for inp in inputs]
        self.merge_artifacts(inputs, exclude=["conflict"])
        self.next(self.end)

    @step
    def end(self):
        self.merged = {
            "common": self.common,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "same": self.same,
            "has_conflict": hasattr(self, "conflict"),
        }


if __name__ == "__main__":
    MergeArtifactsFlow()
