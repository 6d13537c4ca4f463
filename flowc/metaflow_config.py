"""``metaflow.metaflow_config``: the few settings flows read, with Metaflow 2.19's meanings.

Each ``NAME`` is what Metaflow's ``from_conf("NAME", default)`` gives: the environment variable
``METAFLOW_NAME``, else ``METAFLOW_NAME`` in Metaflow's configuration file
(``$METAFLOW_HOME/config.json``, or ``config_<METAFLOW_PROFILE>.json``; ``METAFLOW_HOME``
defaults to ``~/.metaflowconfig``; a file that cannot be read counts as empty), else Metaflow's
default. Inside a running task flowc knows better than the environment: the datastore settings
describe the task's own datastore (an ``s3://`` root is ``DATASTORE_SYSROOT_S3`` and
``DEFAULT_DATASTORE`` is ``s3``), as Metaflow's do on a remote task where it sets them.

Values are read when a flow reads them (PEP 562), so a step sees its task's datastore. Names
Metaflow has but this module lacks are refused when the flow compiles (FLOW084).
Standard library only: tasks import it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

_DEFAULT_SUFFIX = "data"


def _config_file() -> dict[str, Any]:
    """Metaflow's global configuration file, as a dict ({} when absent or unreadable)."""
    home = os.environ.get("METAFLOW_HOME", "~/.metaflowconfig")
    profile = os.environ.get("METAFLOW_PROFILE")
    path = os.path.expanduser(os.path.join(home, f"config_{profile}.json" if profile else "config.json"))
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _from_conf(name: str, default: Any = None) -> Any:
    """``METAFLOW_<name>`` from the environment, else the configuration file, else ``default``."""
    key = f"METAFLOW_{name}"
    if key in os.environ:
        return os.environ[key]
    return _config_file().get(key, default)


def _task_root() -> str | None:
    """The running task's datastore root (``s3://...`` or a directory); None outside a task."""
    from flowc.current import current

    datastore = current._values.get("_datastore") if current.is_running_flow else None
    return datastore.root if datastore is not None else None


def _sysroot(kind: str) -> Callable[[], Any]:
    """``DATASTORE_SYSROOT_<kind>``: the running task's root when it is that kind of datastore."""
    def value() -> Any:
        root = _task_root()
        if root is not None and _kind(root) == kind:
            return root
        return _from_conf(f"DATASTORE_SYSROOT_{kind.upper()}")
    return value


def _kind(root: str) -> str:
    return "s3" if root.startswith("s3://") else "local"


def _default_datastore() -> Any:
    root = _task_root()
    return _kind(root) if root is not None else _from_conf("DEFAULT_DATASTORE", "local")


def _datatools_root(kind: str) -> Callable[[], Any]:
    """``DATATOOLS_<kind>ROOT``: set, else ``<sysroot>/<DATATOOLS_SUFFIX>`` when there is a sysroot."""
    def value() -> Any:
        sysroot = _sysroot(kind)()
        default = os.path.join(sysroot, _suffix()) if sysroot else None
        return _from_conf(f"DATATOOLS_{kind.upper()}ROOT", default)
    return value


def _suffix() -> Any:
    return _from_conf("DATATOOLS_SUFFIX", _DEFAULT_SUFFIX)


def _plain(name: str, default: Any = None) -> Callable[[], Any]:
    return lambda: _from_conf(name, default)


_SETTINGS: dict[str, Callable[[], Any]] = {
    "USER": _plain("USER"),
    "DEFAULT_DATASTORE": _default_datastore,
    "DEFAULT_METADATA": _plain("DEFAULT_METADATA", "local"),
    "DATASTORE_SYSROOT_S3": _sysroot("s3"),
    "DATASTORE_SYSROOT_LOCAL": _sysroot("local"),
    "DATASTORE_SYSROOT_AZURE": _plain("DATASTORE_SYSROOT_AZURE"),
    "DATASTORE_SYSROOT_GS": _plain("DATASTORE_SYSROOT_GS"),
    "DATATOOLS_SUFFIX": _suffix,
    "DATATOOLS_S3ROOT": _datatools_root("s3"),
    "DATATOOLS_LOCALROOT": _datatools_root("local"),
    "S3_ENDPOINT_URL": _plain("S3_ENDPOINT_URL"),
}


def __getattr__(name: str) -> Any:
    setting = _SETTINGS.get(name)
    if setting is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return setting()


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SETTINGS))


__all__ = sorted(_SETTINGS)
