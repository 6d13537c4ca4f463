"""``Config``, ``ConfigValue`` and ``config_expr`` at run time. Standard library only.

The compiler resolves every config once and writes the values into the manifest; before the
shim imports the flow module it installs them here (``install``), so ``cfg.cpu`` in a decorator
argument, ``**config_expr("cfg.pypi")`` and ``self.cfg.x`` in a step all see exactly the values
that were compiled in. Outside flowc's runtime (the module imported by plain Python) a config
has no value yet: reading one raises a one-line error instead of guessing.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterator

_VALUES: dict[str, Any] = {}  # config name -> resolved (JSON) value, installed from the manifest
_INSTALLED = False


class ConfigNotResolved(LookupError):
    """A config was read outside a compiled run."""


def install(configs: Any) -> None:
    """Make the manifest's configs (``ir.Config`` records) the values every Config returns."""
    global _INSTALLED
    _VALUES.clear()
    for config in configs:
        _VALUES[config.name] = json.loads(config.value)
    _INSTALLED = True


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class ConfigValue(dict):
    """A resolved config: a read-only dict whose keys also read as attributes (``cfg.a.b``,
    ``cfg["a"]["b"]``, nested dicts wrapped too); ``to_dict()`` gives a plain copy. Stored as an
    artifact under its attribute, as Metaflow stores configs."""

    def __getitem__(self, key: Any) -> Any:
        return _wrap(dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return _wrap(dict.get(self, key, default))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _wrap(dict.__getitem__(self, name))
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a config is read-only")

    __setitem__ = __delitem__ = __setattr__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self))

    def __reduce__(self) -> tuple:  # pickles as its data (artifacts, inputs)
        return (ConfigValue, (dict(self),))


def artifacts(configs: Any) -> dict[str, Any]:
    """The artifacts the start task stores for the manifest's configs, by attribute."""
    return {config.attribute: _wrap(json.loads(config.value)) for config in configs}


def _value_of(name: str) -> Any:
    if name not in _VALUES:
        where = "no value was compiled in for it" if _INSTALLED else "configs are resolved by flowc " \
            "when it compiles the flow (run it with flowc run or a compiled spec)"
        raise ConfigNotResolved(f"config {name!r} is not available: {where}")
    return _wrap(_VALUES[name])


class Config:
    """``cfg = Config("cfg", default="config.json", ...)`` in a flow class. Every argument is
    read by the compiler; here the object stands for the compiled value."""

    def __init__(self, name: str, default: Any = None, default_value: Any = None, help: str | None = None,
                 required: bool | None = None, parser: Any = None, plain: bool | None = False, **kwargs: Any):
        self.name = name
        self.default, self.default_value, self.help = default, default_value, help
        self.required, self.parser, self.plain = required, parser, plain

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self if instance is None else _value_of(self.name)

    @property
    def value(self) -> Any:
        return _value_of(self.name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_value_of(self.__dict__["name"]), name)

    def __getitem__(self, key: Any) -> Any:
        return _value_of(self.name)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_value_of(self.name))

    def keys(self) -> Any:  # ``**cfg``
        return _value_of(self.name).keys()

    def __repr__(self) -> str:
        return f"Config({self.name!r})"


def config_expr(expression: str) -> Any:
    """The value of ``expression`` (e.g. ``"cfg.project"``, ``"make_name(cfg)"``) over the
    compiled configs, by name, in the calling module's globals (as Metaflow evaluates it)."""
    names = {name: _value_of(name) for name in _VALUES}
    caller = sys._getframe(1).f_globals
    try:
        return eval(expression, caller, names)  # noqa: S307 - the flow's own expression
    except NameError as exc:
        raise ConfigNotResolved(f"config_expr({expression!r}): {exc}") from None


# --------------------------------------------------------------------------- parsers
# The parsers Metaflow ships, by name (``Config(..., parser=requirements_txt_parser)``). The
# compiler applies them (flowc.compiler.configs); flows import them from here.

def toml_loads(text: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib

    return tomllib.loads(text)


def yaml_parser(text: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise ValueError("the YAML parser needs PyYAML installed where flowc compiles") from None
    return yaml.safe_load(text)


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*(.*?)\s*$")


def requirements_txt_parser(text: str) -> dict[str, Any]:
    """Metaflow's requirements_txt_parser: {"packages": {name: specifier}, "python": spec}."""
    packages: dict[str, str] = {}
    python = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise ValueError(f"unsupported option in requirements.txt: {line!r}")
        if ";" in line:
            raise ValueError(f"environment markers are not supported: {line!r}")
        match = _REQUIREMENT.match(line)
        if match is None:
            raise ValueError(f"invalid requirement {line!r}")
        name, spec = match.group(1), match.group(2)
        if name.lower() == "python":
            if python is not None:
                raise ValueError("python is constrained twice")
            python = spec
        else:
            packages[name] = spec
    return {"packages": packages, "python": python}


def pyproject_toml_parser(text: str) -> dict[str, Any]:
    """Metaflow's pyproject_toml_parser: [project] dependencies and requires-python."""
    project = toml_loads(text).get("project", {})
    parsed = requirements_txt_parser("\n".join(project.get("dependencies", [])))
    parsed["python"] = project.get("requires-python")
    return parsed



__all__ = ["Config", "ConfigValue", "config_expr", "install", "ConfigNotResolved", "toml_loads",
           "yaml_parser", "requirements_txt_parser", "pyproject_toml_parser"]
