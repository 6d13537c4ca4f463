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

_Field = tuple[str, int, int, dict[str, int]]  # (field name, low, high, names)
_UNIX_FIELDS: tuple[_Field, ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS_UNIX),
)
_AWS_FIELDS: tuple[_Field, ...] = (
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
