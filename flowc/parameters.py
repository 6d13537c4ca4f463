"""``Parameter``, ``JSONType`` and ``IncludeFile`` (Metaflow's signatures and defaults).

A parameter is a class attribute of the flow. At run time it is a read-only data descriptor: the
value lives in the task's artifacts (stored under the attribute name by the start step and
inherited from there), so every step sees the same value and joins get it too.
"""

from __future__ import annotations

import json
from typing import Any

from flowc.exceptions import ParameterError

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}


class JSONTypeClass:
    """``type=JSONType``: the value is JSON text, parsed into Python data."""

    name = "JSON"

    def convert(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ParameterError(f"{value!r} is not valid JSON: {exc}") from None

    def __call__(self, value: Any) -> Any:
        return self.convert(value)

    def __repr__(self) -> str:
        return "JSONType"


JSONType = JSONTypeClass()


def type_name(tp: Any, default: Any = None) -> str:
    """The manifest's type name (str|int|float|bool|json) for a Python type or inferred default."""
    if tp is None:
        if isinstance(default, bool):
            return "bool"
        if isinstance(default, int):
            return "int"
        if isinstance(default, float):
            return "float"
        if isinstance(default, (dict, list)):
            return "json"
        return "str"
    if isinstance(tp, JSONTypeClass):
        return "json"
    for candidate, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if tp is candidate:
            return name
    return "str"


def convert(text: str, tname: str, name: str = "parameter") -> Any:
    """One command-line string typed as the manifest says; errors name the parameter."""
    try:
        if tname == "str":
            return text
        if tname == "int":
            return int(text)
        if tname == "float":
            return float(text)
        if tname == "bool":
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"{text!r} is not a boolean (true/false)")
        if tname == "json":
            return JSONType.convert(text)
    except (ValueError, ParameterError) as exc:
        raise ParameterError(f"parameter {name!r}: cannot read {text!r} as {tname}: {exc}") from None
    raise ParameterError(f"parameter {name!r}: unknown type {tname!r}")


def convert_with_separator(text: str, tname: str, separator: str | None, name: str) -> Any:
    if separator:
        return [convert(part, tname, name) for part in text.split(separator)]
    return convert(text, tname, name)


class ParameterContext:
    """What a callable default receives: the fields of Metaflow's ``ParameterContext``."""

    def __init__(self, flow_name: str, parameter_name: str, user_name: str | None = None,
                 logger: Any = None, ds_type: str | None = None, configs: Any = None):
        self.flow_name = flow_name
        self.parameter_name = parameter_name
        self.user_name = user_name
        self.logger = logger if logger is not None else print
        self.ds_type = ds_type
        self.configs = configs


class Parameter:
    """A flow parameter: ``alpha = Parameter("alpha", default=0.5, help=...)``."""

    IS_INCLUDE_FILE = False

    def __init__(self, name: str, default: Any = None, type: Any = None, help: str | None = None,
                 required: bool = False, show_default: bool = True, separator: str | None = None,
                 **kwargs: Any):
        self.name = name
        self.default = default
        self.type = type
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.kwargs = kwargs
        self.attribute: str | None = None

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        state = instance.__dict__.get("_flowc_state")
        if state is None:
            return self.default
        return state.get_artifact(instance, self.attribute)

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(f"parameter {self.name!r} is read-only; assign to another attribute")

    def resolve_default(self, flow_name: str, user: str | None = None) -> Any:
        """The default, calling it when it is computed at run time (``default=lambda ctx: ...``)."""
        default = self.default
        if callable(default) and not isinstance(default, type):
            import inspect

            try:
                takes_context = bool(inspect.signature(default).parameters)
            except (TypeError, ValueError):
                takes_context = True
            if takes_context:
                return default(ParameterContext(flow_name, self.name, user))
            return default()
        return default

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class IncludeFile(Parameter):
    """A parameter whose value is a path; the file's content is stored once per run as the artifact."""

    IS_INCLUDE_FILE = True

    def __init__(self, name: str, required: bool = False, is_text: bool = True,
                 encoding: str = "utf-8", help: str | None = None, default: Any = None,
                 **kwargs: Any):
        super().__init__(name, default=default, type=str, help=help, required=required, **kwargs)
        self.is_text = is_text
        self.encoding = encoding


def read_include_file(path: str, is_text: bool, encoding: str, name: str) -> Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ParameterError(f"IncludeFile {name!r}: cannot read {path}: {exc.strerror or exc}") from None
    if not is_text:
        return data
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParameterError(f"IncludeFile {name!r}: {path} is not {encoding} text: {exc}") from None

