"""Hyper-parameter search for a small linear model, trained with plain gradient descent.

start makes a synthetic data set, fans out over a grid of learning rates (foreach), each branch
trains and scores a model on a held-out split, and the join keeps the best one.

    flowc run examples/train.py --param epochs=40
"""

import random

from flowc import FlowSpec, JSONType, Parameter, resources, retry, step, timeout

GRID = [0.001, 0.01, 0.05, 0.1]


def make_data(n, seed):
    """y = 3x - 2 with a little noise; the model should recover slope 3 and intercept -2."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    return [(x, 3.0 * x - 2.0 + rng.gauss(0.0, 0.1)) for x in xs]


def mse(points, w, b):
    return sum((w * x + b - y) ** 2 for x, y in points) / len(points)


class TrainFlow(FlowSpec):
    """Grid-search the learning rate of a linear regression and keep the best model."""

    epochs = Parameter("epochs", default=25, help="Gradient descent passes over the data")
    samples = Parameter("samples", default=200, help="Size of the synthetic data set")
    seed = Parameter("seed", default=7, help="Random seed for the data")
    grid = Parameter("grid", type=JSONType, default=GRID, help="Learning rates to try (JSON list)")

    @step
    def start(self):
        """Make the data set and the grid to search."""
        data = make_data(self.samples, self.seed)
        cut = int(len(data) * 0.8)
        self.train_set, self.test_set = data[:cut], data[cut:]
        self.rates = list(self.grid)
        self.next(self.train, foreach="rates")

    @retry(times=2, minutes_between_retries=0)
    @timeout(minutes=10)
    @resources(cpu=1, memory=512)
    @step
    def train(self):
        """Fit w and b for one learning rate."""
        self.rate = self.input
        w, b = 0.0, 0.0
        for _ in range(self.epochs):
            for x, y in self.train_set:
                error = w * x + b - y
                w -= self.rate * error * x
                b -= self.rate * error
        self.model = (w, b)
        self.test_mse = mse(self.test_set, w, b)
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """Keep the model with the lowest held-out error."""
        results = sorted((inp.test_mse, inp.rate, inp.model) for inp in inputs)
        self.best_mse, self.best_rate, self.best_model = results[0]
        self.scores = {rate: round(score, 6) for score, rate, _ in results}
        self.next(self.end)

    @step
    def end(self):
        """Report the winner."""
        w, b = self.best_model
        print(f"best learning rate {self.best_rate}: y = {w:.3f}x + {b:.3f} (mse {self.best_mse:.5f})")


if __name__ == "__main__":
    TrainFlow()
