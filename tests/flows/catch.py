"""Catch after failure: `boom` always raises; @catch stores the exception and the run goes on."""

from flowc import FlowSpec, catch, retry, step


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.divisor = 0
        self.next(self.boom)

    @catch(var="failure", print_exception=False)
    @retry(times=1, minutes_between_retries=0)
    @step
    def boom(self):
        self.before = "set before the error"
        self.quotient = 1 // self.divisor
        self.next(self.end)

    @step
    def end(self):
        self.caught = self.failure is not None
        self.failure_text = str(self.failure)
        self.quotient_missing = not hasattr(self, "quotient")


if __name__ == "__main__":
    CatchFlow()
