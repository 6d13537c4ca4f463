"""Started by the data_ready event: two parameters mapped from its payload."""

from flowc import FlowSpec, Parameter, current, step, trigger


@trigger(event={"name": "data_ready", "parameters": {"alpha": "value", "who": "user"}})
class OnEventFlow(FlowSpec):
    """Started by the data_ready event."""

    alpha = Parameter("alpha", default=0.5, type=float)
    who = Parameter("who", default="nobody")

    @step
    def start(self):
        event = current.trigger.event if current.trigger else None
        self.event = [event.name, event.type, bool(event.id)] if event else None
        self.next(self.end)

    @step
    def end(self):
        self.seen_in_end = current.trigger.event.name if current.trigger else None
