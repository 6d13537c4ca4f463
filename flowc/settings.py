"""Deployment settings: ``[tool.flowc]`` in the nearest pyproject.toml, overridden by flags.

Keys are the fields of ``Settings`` (shared) and of each registered target's settings, written
``<target>_<field>`` (``argo_version``) or as ``[tool.flowc.<target>]`` tables. An unknown key is
an error with a did-you-mean, wherever it comes from: a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from flowc.compiler.project import SETTING_KEYS
from flowc.targets import Settings, TargetSettings, all_targets
from flowc.targets.base import settings_fields

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: where it lives (``owner`` is None for the shared ones) and its field."""

    name: str
    owner: type[TargetSettings] | None
    field: dataclasses.Field[Any]

    @property
    def help(self) -> str:
        return str(self.field.metadata.get("help", ""))

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.field.metadata.get("choices", ()))


def known_keys() -> dict[str, Key]:
    """Every setting by its flat name, shared ones first."""
    keys = {f.name: Key(f.name, None, f) for f in settings_fields(Settings)}
    for name, target in all_targets().items():
        for f in settings_fields(target.settings_type):
            flat = f"{name}_{f.name}"
            keys[flat] = Key(flat, target.settings_type, f)
    return keys


def find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def project_root(flow_path: Path) -> Path:
    """The project a flow belongs to: the nearest directory above it holding a pyproject.toml or
    a .git, else the flow's own directory. Specs name files relative to it, so the same flow
    compiles to the same bytes from any working directory."""
    start = flow_path.resolve().parent
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory
    return start


def project_paths(flow_path: Path, sources: tuple[str, ...]) -> dict[str, str]:
    """Each source path as compiled (relative to the working directory, or absolute) -> the same
    file relative to the project root (POSIX); files outside the project keep their name only."""
    root = project_root(flow_path)
    out = {}
    for source in sources:
        resolved = Path(source).resolve()
        out[source] = (resolved.relative_to(root).as_posix() if resolved.is_relative_to(root)
                       else resolved.name)
    return out


def _table(pyproject: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{pyproject}: cannot read [tool.flowc]: {exc}") from exc
    table = data.get("tool", {}).get("flowc", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{pyproject}: [tool.flowc] must be a table")
    flat: dict[str, Any] = {}
    targets = set(all_targets())
    for key, value in table.items():
        key = key.replace("-", "_")
        if isinstance(value, dict) and key in targets:
            flat.update({f"{key}_{k.replace('-', '_')}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def layers(flow_path: Path, overrides: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(origin, values) from lowest to highest precedence: pyproject, then flags."""
    out: list[tuple[str, dict[str, Any]]] = []
    pyproject = find_pyproject(flow_path.resolve().parent)
    if pyproject is not None:
        out.append((f"{pyproject} [tool.flowc]", _table(pyproject)))
    given = {k.replace("-", "_"): v for k, v in overrides.items() if v is not None}
    if given:
        out.append(("command line", given))
    return out


def resolve(layered: list[tuple[str, dict[str, Any]]]) -> tuple[Settings, dict[str, str]]:
    """The settings of the layers, and where each value set came from ("default" otherwise)."""
    keys = known_keys()
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in layered:
        for name, value in layer.items():
            if name in SETTING_KEYS:  # the compiler's front end reads and checks it
                continue
            key = keys.get(name)
            if key is None:
                raise SettingsError(_unknown(name, origin, keys))
            values[name] = _coerce(key, value, origin)
            origins[name] = origin
    shared = {k: v for k, v in values.items() if keys[k].owner is None}
    per_target: dict[type[TargetSettings], dict[str, Any]] = {}
    for name, value in values.items():
        key = keys[name]
        if key.owner is not None:
            per_target.setdefault(key.owner, {})[key.field.name] = value
    _check_code_package(shared.get("code_package"))
    own = tuple(cls(**fields) for cls, fields in per_target.items())
    return Settings(**shared, targets=own), {k: origins.get(k, "default") for k in keys}


def load_settings(flow_path: Path, overrides: Mapping[str, Any]) -> Settings:
    """Settings for one flow file: defaults < ``[tool.flowc]`` < flags (``None`` means not given)."""
    return resolve(layers(flow_path, overrides))[0]


def from_values(**values: Any) -> Settings:
    """Settings from flat keys, as ``[tool.flowc]`` would give them (for the API and tests)."""
    return resolve([("settings", values)])[0]


def value_of(settings: Settings, name: str) -> Any:
    """The value of a flat key (``argo_server``) in ``settings``."""
    key = known_keys()[name]
    holder: Any = settings if key.owner is None else settings.of(key.owner)
    return getattr(holder, key.field.name)


def describe(flow_path: Path, overrides: Mapping[str, Any]) -> str:
    """``flowc config``: one line per setting, ``key = value  # origin``, then its help."""
    settings, origins = resolve(layers(flow_path / "flow.py" if flow_path.is_dir() else flow_path,
                                       overrides))
    lines = []
    for name, key in known_keys().items():
        value = value_of(settings, name)
        shown = "(unset)" if value is None else json.dumps(value)
        lines.append(f"{name} = {shown}  # {origins[name]}")
        lines.append(f"    {key.help}" + (f" ({' | '.join(key.choices)})" if key.choices else ""))
    return "\n".join(lines) + "\n"


# Keys that name a credential: never a setting (they would land in specs and logs).
_CREDENTIAL = re.compile(r"(token|password|passwd|secret|credential|api_key|access_key)", re.I)


def _unknown(name: str, origin: str, keys: Mapping[str, Key]) -> str:
    if _CREDENTIAL.search(name):
        return (f"{origin}: {name!r} looks like a credential; flowc never stores credentials: pass "
                "them through the environment (see docs/deploy.md)")
    close = difflib.get_close_matches(name, list(keys), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `flowc config` lists every setting"
    return f"{origin}: unknown setting {name!r}{hint}"


def _coerce(key: Key, value: Any, origin: str) -> Any:
    kind = str(key.field.type)
    if value is None:
        return None
    if kind.startswith("int"):
        if isinstance(value, bool):
            raise SettingsError(f"{origin}: setting {key.name!r} must be an integer, got {value!r}")
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{origin}: setting {key.name!r} must be an integer, got {value!r}") from None
    elif kind.startswith("bool"):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            value = value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise SettingsError(f"{origin}: setting {key.name!r} must be true or false, got {value!r}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a version written as a TOML number
    elif not isinstance(value, str):
        raise SettingsError(f"{origin}: setting {key.name!r} must be a string, got {value!r}")
    if key.choices and value not in key.choices:
        raise SettingsError(f"{origin}: setting {key.name!r} must be one of "
                            f"{', '.join(key.choices)}, got {value!r}")
    return value


def _check_code_package(url: Any) -> None:
    if not url:
        return
    from flowc.runtime_shim.code_package import CodePackageError, expected_sha256

    try:
        expected_sha256(url)
    except CodePackageError as exc:
        raise SettingsError(str(exc)) from None
