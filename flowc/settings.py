"""Deployment settings: ``[tool.flowc]`` in the nearest pyproject.toml, overridden by flags."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Mapping

from flowc.targets import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class SettingsError(ValueError):
    pass


def find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(flow_path: Path, overrides: Mapping[str, Any]) -> Settings:
    """Settings for one flow file: defaults < ``[tool.flowc]`` < flags (``None`` means not given)."""
    values: dict[str, Any] = {}
    pyproject = find_pyproject(flow_path.resolve().parent)
    if pyproject is not None:
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("flowc", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{pyproject}: cannot read [tool.flowc]: {exc}") from exc
        values.update({key.replace("-", "_"): value for key, value in table.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in dataclasses.fields(Settings)}
    extra = {k: v for k, v in values.items() if k not in known}
    typed = {k: v for k, v in values.items() if k in known and k != "extra"}
    for key, value in typed.items():
        default = known[key].default
        if isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int):
            try:
                typed[key] = int(value)
            except (TypeError, ValueError):
                raise SettingsError(f"setting {key!r} must be an integer, got {value!r}") from None
    if typed.get("code_package"):
        from flowc.runtime_shim.code_package import CodePackageError, expected_sha256

        try:
            expected_sha256(typed["code_package"])
        except CodePackageError as exc:
            raise SettingsError(str(exc)) from None
    return Settings(**typed, extra=tuple(sorted(extra.items())))
