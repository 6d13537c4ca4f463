from metaflow import FlowSpec, Parameter, current, parallel, step


class GangFlow(FlowSpec):
    """A gang of num_parallel tasks; the join sees every member."""

    nodes = Parameter("nodes", default=3, type=int)
    fail_rank = Parameter("fail_rank", default=-1, type=int)

    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=self.nodes)

    @parallel
    @step
    def train(self):
        self.rank = current.parallel.node_index
        self.size = current.parallel.num_nodes
        self.main = current.parallel.main_ip
        self.control = current.parallel.control_task_id
        if self.rank == self.fail_rank:
            raise RuntimeError(f"node {self.rank} fails")
        self.value = self.base + self.rank
        self.next(self.join)

    @step
    def join(self, inputs):
        self.ranks = sorted(i.rank for i in inputs)
        self.total = sum(i.value for i in inputs)
        self.sizes = sorted({i.size for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        print(self.ranks, self.total)


if __name__ == "__main__":
    GangFlow()
