"""Started when OnEventFlow succeeds."""

from flowc import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="OnEventFlow")
class OnFinishFlow(FlowSpec):
    """Started by OnEventFlow's success."""

    @step
    def start(self):
        trigger = current.trigger
        self.event = [trigger.event.name, trigger.event.type] if trigger else None
        self.upstream = trigger.run.pathspec if trigger else None
        self.upstream_alpha = trigger.run.data.alpha if trigger else None
        self.next(self.end)

    @step
    def end(self):
        pass
