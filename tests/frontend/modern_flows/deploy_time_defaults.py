"""Callable Parameter defaults, which Metaflow evaluates when it deploys (or starts) a run."""
from metaflow import Config, FlowSpec, Parameter, step

SUFFIX = "-1"


def default_region(ctx):
    return "eu-" + ctx.parameter_name + SUFFIX


def default_size(ctx):
    return ctx.configs.sizes.small


class DeployTimeDefaultsFlow(FlowSpec):
    cfg = Config("sizes", default_value={"small": 2})
    region = Parameter("region", default=default_region)
    size = Parameter("size", type=int, default=default_size)
    owner = Parameter("owner", default=lambda ctx: ctx.flow_name + "/" + ctx.user_name)

    @step
    def start(self):
        self.seen = [self.region, self.size, self.owner]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployTimeDefaultsFlow()
