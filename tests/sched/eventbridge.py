"""EventBridge delivering to Step Functions, for the moto harness.

moto 5.2's EventBridge matches events against rules (its pattern matcher is used as is) but
cannot deliver to a Step Functions target: ``Rule.send_to_targets`` raises
``NotImplementedError`` for a ``states`` ARN, so ``PutEvents`` answers HTTP 500. moto also writes
an event's ``time`` as epoch seconds where AWS writes ISO 8601. ``delivers_to_step_functions``
patches exactly that delivery: a matching rule's Step Functions target gets the input AWS would
hand it (``transform``: the input transformer as AWS documents it) and an execution is started
with it. Nothing else of moto's EventBridge changes.

``transform`` implements the documented semantics the compiled rules rely on: each
``InputPathsMap`` entry is a dot-notation JSONPath into the event; in ``InputTemplate`` a
``<name>`` outside a JSON string is replaced by the value as JSON (an object stays an object, a
string gets quotes), and inside a JSON string by its text (a string without quotes).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import uuid
from typing import Any, Iterator

from tests.harness.moto_sfn import MotoSfn

_MISSING = object()


def json_path(event: dict[str, Any], path: str) -> Any:
    """``$.a.b`` of ``event`` (dot notation, the form the rules use); ``_MISSING`` if absent."""
    if path == "$":
        return event
    assert path.startswith("$."), path
    value: Any = event
    for key in path[2:].split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def transform(event: dict[str, Any], transformer: dict[str, Any]) -> str:
    """The text EventBridge hands the target for ``event`` under ``transformer``."""
    values = {name: json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
    template = transformer["InputTemplate"]
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            end = template.find(">", i)
            name = template[i + 1:end] if end > 0 else ""
            if name in values:
                value = values[name]
                assert value is not _MISSING, f"the event has no {transformer['InputPathsMap'][name]}"
                if in_string:
                    out.append(value if isinstance(value, str) else json.dumps(value))
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        out.append(char)
        i += 1
    return "".join(out)


def aws_time(value: Any) -> Any:
    """An event's ``time`` as AWS writes it (``2026-01-02T03:04:05Z``); moto writes epoch seconds."""
    if isinstance(value, (int, float)):
        moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


@contextlib.contextmanager
def delivers_to_step_functions(aws: MotoSfn) -> Iterator[list[dict[str, Any]]]:
    """Within the block, a rule's Step Functions targets start executions; yields the list of
    deliveries (target ARN, execution ARN, the input handed over)."""
    from moto.events import models
    from moto.utilities.arns import parse_arn

    deliveries: list[dict[str, Any]] = []
    original = models.Rule.send_to_targets

    def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(event):
            return
        event = {**event, "time": aws_time(event.get("time"))}
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        for target in ours:
            transformer = target.get("InputTransformer")
            text = transform(event, transformer) if transformer else json.dumps(event)
            started = aws.client("stepfunctions").start_execution(
                stateMachineArn=target["Arn"], name=uuid.uuid4().hex, input=text)
            deliveries.append({"target": target["Arn"], "execution": started["executionArn"],
                               "input": json.loads(text)})
        others = [t for t in self.targets if t not in ours]
        if others:
            saved, self.targets = self.targets, others
            try:
                original(self, event, transform_input)
            finally:
                self.targets = saved

    models.Rule.send_to_targets = send_to_targets
    try:
        yield deliveries
    finally:
        models.Rule.send_to_targets = original
