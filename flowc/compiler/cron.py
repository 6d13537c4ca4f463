"""Cron expression validation: the 5-field form (Argo, Airflow, Kubernetes) and AWS's 6-field form.

The checker only needs to know *whether* and *why* an expression is invalid, so each validator
returns an error message or ``None``; nothing here schedules anything.
"""

from __future__ import annotations

import re

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS_UNIX = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_DAYS_AWS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}

# (field name, low, high, names)
_UNIX_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS_UNIX),
)
_AWS_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 1, 7, _DAYS_AWS),
    ("year", 1970, 2199, {}),
)
_STEP = re.compile(r"^(?P<range>[^/]+)(?:/(?P<step>\d+))?$")


def _value(text: str, low: int, high: int, names: dict[str, int], field: str) -> str | int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        return f"{field} value {text!r} is not a number"
    number = int(text)
    if not low <= number <= high:
        return f"{field} value {number} is outside {low}-{high}"
    return number


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in text.split(","):
        match = _STEP.match(item)
        if not item or match is None:
            return f"{field} field {text!r} is malformed"
        step = match.group("step")
        if step is not None and int(step) == 0:
            return f"{field} step in {item!r} must be at least 1"
        body = match.group("range")
        if body == "*":
            continue
        bounds = body.split("-")
        if len(bounds) > 2:
            return f"{field} range {body!r} is malformed"
        parsed = []
        for bound in bounds:
            value = _value(bound, low, high, names, field)
            if isinstance(value, str):
                return value
            parsed.append(value)
        if len(parsed) == 2 and parsed[0] > parsed[1]:
            return f"{field} range {body!r} runs backwards"
    return None


def check_unix(expression: str) -> str | None:
    """Why a 5-field cron expression (or ``@daily``-style macro) is invalid, or ``None``."""
    text = expression.strip()
    if text.startswith("@"):
        return None if text in MACROS else f"unknown cron macro {text!r}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for value, (name, low, high, names) in zip(fields, _UNIX_FIELDS):
        problem = _field(value, name, low, high, names)
        if problem:
            return problem
    return None


def check_aws(expression: str) -> str | None:
    """Why an AWS 6-field cron expression (EventBridge) is invalid, or ``None``."""
    fields = expression.split()
    if len(fields) != 6:
        return f"expected 6 fields for an AWS cron expression, got {len(fields)}"
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        return "an AWS cron expression needs '?' in exactly one of day-of-month and day-of-week"
    for value, (name, low, high, names) in zip(fields, _AWS_FIELDS):
        if value == "?" and name in ("day of month", "day of week"):
            continue
        if name == "day of month" and re.fullmatch(r"L|LW|\d{1,2}W", value):
            continue
        if name == "day of week" and re.fullmatch(r"\d(L|#[1-5])|L", value):
            continue
        problem = _field(value, name, low, high, names)
        if problem:
            return problem
    return None


def check(expression: str) -> str | None:
    """Validate a cron expression in either form (chosen by its number of fields)."""
    if len(expression.split()) == 6:
        return check_aws(expression)
    return check_unix(expression)


# --------------------------------------------------------------------------- conversions
#
# A schedule is converted once, in the plan; each target writes the form its engine reads.

_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


def to_unix(expression: str) -> str | None:
    """The 5-field form (Argo, Airflow): unchanged when it already is one (or a macro); an AWS
    6-field expression converts when its year is ``*``, with ``?`` read as ``*``."""
    fields = expression.split()
    if len(fields) != 6:
        return expression
    if fields[5] not in ("*", "?"):
        return None
    return " ".join("*" if f == "?" else f for f in fields[:5])


def _aws_day_of_week(field: str) -> str:
    """Unix day-of-week numbers (0-7, Sunday 0 or 7) to AWS's (1-7, Sunday 1); names unchanged."""
    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) % 7 + 1)

    if field.startswith("*/"):
        return "1/" + field[2:]
    parts = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        body = re.sub(r"\d+", shift, body)
        parts.append(body + ("/" + step if step else ""))
    return ",".join(parts)


def to_aws(expression: str) -> str | None:
    """``cron(...)`` for EventBridge from a 5-field cron, a macro or an AWS 6-field cron; ``None``
    when the expression restricts both day-of-month and day-of-week (AWS cannot say "either")."""
    text = _MACROS.get(expression.strip(), expression.strip())
    fields = text.split()
    if len(fields) == 6:
        return f"cron({text})"
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dom_aws, dow_aws = dom, "?"
    elif dom == "*":
        dom_aws, dow_aws = "?", _aws_day_of_week(dow)
    else:
        return None
    return f"cron({minute} {hour} {dom_aws} {month} {dow_aws} *)"
