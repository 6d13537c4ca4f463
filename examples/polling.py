"""Wait for upstream data with a recursive switch: the step loops to itself until ready.

Written with Metaflow's imports: flowc compiles it unchanged.
"""

from metaflow import FlowSpec, Parameter, step, timeout

MAX_POLLS = 5


class PollingFlow(FlowSpec):
    """Poll a (simulated) upstream partition until it lands, then process it."""

    ready_after = Parameter("ready_after", default=3, help="Poll on which the partition appears")

    @step
    def start(self):
        self.polls = 0
        self.next(self.wait)

    @timeout(seconds=30)
    @step
    def wait(self):
        """One poll; loops back to itself until the data is there or we give up."""
        self.polls += 1
        if self.polls >= self.ready_after:
            self.state = "ready"
        elif self.polls >= MAX_POLLS:
            self.state = "give_up"
        else:
            self.state = "again"
        self.next({"again": self.wait, "ready": self.process, "give_up": self.process},
                  condition="state")

    @step
    def process(self):
        self.result = f"{self.state} after {self.polls} polls"
        self.next(self.end)

    @step
    def end(self):
        print(self.result)


if __name__ == "__main__":
    PollingFlow()
