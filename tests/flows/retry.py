"""Retry then success: `flaky` fails on its first attempt and succeeds on the second."""

from flowc import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("transient failure on the first attempt")
        self.succeeded_on_attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        self.result = "ok after %d retry" % self.succeeded_on_attempt


if __name__ == "__main__":
    RetryFlow()
