"""num_parallel taken from a Parameter: the gang's size is known only when the run starts."""

from metaflow import FlowSpec, Parameter, current, parallel, step


class ParallelFromParameterFlow(FlowSpec):
    nodes = Parameter("nodes", default=2, type=int)

    @step
    def start(self):
        self.next(self.train, num_parallel=self.nodes)

    @parallel
    @step
    def train(self):
        self.node = (current.parallel.node_index, current.parallel.num_nodes)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes_seen = [inp.node for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelFromParameterFlow()
