"""A data-quality gate: a switch publishes good batches and quarantines bad ones.

start -> score -> {pass: publish, fail: quarantine} -> report -> end
"""

from flowc import FlowSpec, Parameter, step

BATCH = [12.0, 11.5, None, 13.2, 12.8, None, 12.1, 11.9]


class QualityGateFlow(FlowSpec):
    """Publish a batch only when few enough of its values are missing."""

    max_missing = Parameter("max_missing", default=0.3, help="Largest allowed share of missing values")

    @step
    def start(self):
        self.batch = list(BATCH)
        self.next(self.score)

    @step
    def score(self):
        """Measure the batch and decide where it goes."""
        missing = sum(v is None for v in self.batch)
        self.missing_share = missing / len(self.batch)
        self.verdict = "pass" if self.missing_share <= self.max_missing else "fail"
        self.next({"pass": self.publish, "fail": self.quarantine}, condition="verdict")

    @step
    def publish(self):
        values = [v for v in self.batch if v is not None]
        self.published = round(sum(values) / len(values), 3)
        self.destination = "warehouse"
        self.next(self.report)

    @step
    def quarantine(self):
        self.published = None
        self.destination = "quarantine"
        self.next(self.report)

    @step
    def report(self):
        """Both cases meet here (a switch needs no join)."""
        self.summary = f"{self.verdict}: {self.missing_share:.0%} missing -> {self.destination}"
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    QualityGateFlow()
