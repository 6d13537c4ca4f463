"""How the Airflow target writes Python: literals, Airflow template expressions, the render
model the DAG template prints, and the template itself.

Nothing here knows the flow's graph; ``flowc.targets.airflow`` lowers the IR into ``Model``.
Every user value reaches the DAG file through ``py``/``pretty`` (Python literals) and, inside an
Airflow templated field, through ``literal`` (never rendered by Jinja nor read as a template file);
in a pod's command and environment also through ``pod_text`` (safe from the kubelet's ``$(VAR)``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flowc.compiler import ir

# Template-field values Airflow would otherwise read as a file to render (KPO: .yaml/.json).
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".sh", ".bash", ".sql")


# --------------------------------------------------------------------------- Python literals


def py(value: Any) -> str:
    """``value`` as Python source: the only way a user value reaches the DAG file."""
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid Python str literal, double-quoted
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"no Python literal for {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Expr:
    """Python source that ``py`` writes as is: a variable or a call flowc built itself.

    ``uses`` names the module-level names the source refers to (``Param``, ``k8s``, ...): the DAG
    file imports and defines exactly the names its expressions use."""

    text: str
    uses: frozenset[str] = frozenset()


def call(name: str, *args: str, root: str | None = None) -> Expr:
    """``name(args...)``, using the module-level name ``root`` (default: ``name`` up to its first dot)."""
    return Expr(f"{name}({', '.join(args)})", frozenset({root or name.partition(".")[0]}))


def names_used(value: Any) -> frozenset[str]:
    """Every module-level name the expressions inside ``value`` use."""
    if isinstance(value, Expr):
        return value.uses
    if isinstance(value, (list, tuple)):
        return frozenset().union(*(names_used(v) for v in value))
    if isinstance(value, dict):
        return frozenset().union(*(names_used(v) for v in value.values()))
    return frozenset()


def literal(value: str) -> str | Expr:
    """A user string inside an Airflow templated field, never read by Jinja nor looked up as a
    template file: wrapped in Airflow's ``literal()`` when Jinja could act on it (a ``{`` opens
    every Jinja tag) or its suffix names a template file; as it is otherwise."""
    if "{" in value or value.endswith(_TEMPLATE_SUFFIXES):
        return Expr(f"literal({py(value)})", frozenset({"literal"}))
    return value


def pod_text(value: str) -> str:
    """A literal for a pod's command, args or env value: ``$`` doubled, which the kubelet reads as
    one ``$`` (it expands ``$(VAR)`` there; a value ``$(SECRET)`` must not read the pod's variable)."""
    return value.replace("$", "$$")


# Airflow template expressions, one helper each; ``for_pod`` adds the kubelet's escape.
ATTEMPT = "{{ ti.try_number - 1 }}"


def run_id(for_pod: bool) -> str:
    return "{{ run_id" + (_POD_ESCAPE if for_pod else "") + " }}"


_POD_ESCAPE = " | replace('$', '$$')"


def param_value(param: ir.Parameter, for_pod: bool) -> str:
    """The text of ``--param NAME=...`` for a DAG param, as `flowc run --param` would take it:
    strings as they are, booleans and JSON documents as JSON."""
    expr = f"params[{_jinja_str(param.name)}]"
    as_json = param.type == "bool" or (param.type == "json" and not isinstance(param.default, str))
    if for_pod:
        expr = f"({expr}{' | tojson' if as_json else ''} | string)" + _POD_ESCAPE
    elif as_json:
        expr += " | tojson"
    return "{{ " + expr + " }}"


def params_json(names: list[str], for_pod: bool) -> str:
    """``FLOWC_PARAMS`` for parameters without a literal default: the ones given a value only,
    so the shim computes the others' defaults."""
    pairs = ", ".join(f"{_jinja_str(n)}: params[{_jinja_str(n)}]" for n in names)
    escape = _POD_ESCAPE if for_pod else ""
    return "{{ dict({" + pairs + '}.items() | rejectattr(1, "none")) | tojson' + escape + " }}"


def _jinja_str(text: str) -> str:
    """A Jinja string literal (single-quoted, so the Python literal around it stays plain)."""
    return f"'{text}'" if "'" not in text and "\\" not in text else json.dumps(text)


def nullable(param: ir.Parameter) -> bool:
    """No literal default and not required: None in Airflow until someone sets it."""
    return param.default_kind != "literal" and not param.required


# --------------------------------------------------------------------------- render model


@dataclass(frozen=True, slots=True)
class Task:
    """One ``var = Operator(kwargs)`` statement; kwargs are values for ``pretty``. Inside a group
    function a task nothing refers to is a bare call (``assign`` False), so linters stay quiet."""

    var: str
    operator: str
    kwargs: tuple[tuple[str, Any], ...]
    assign: bool = True


@dataclass(frozen=True, slots=True)
class GroupBlock:
    group_id: str
    expand_from: str
    doc: str
    tasks: tuple[Task, ...]
    edges: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Model:
    """Everything the template prints, already serialized."""

    flow: str
    source: str
    docstring: str | None
    operator: str
    header: tuple[tuple[str, str], ...]  # module constants: (name, Python source)
    dag_kwargs: tuple[tuple[str, Any], ...]
    blocks: tuple[Task | GroupBlock, ...]
    edges: tuple[tuple[str, str], ...]
    names: frozenset[str]  # what the DAG file uses, so it imports and defines only that

    def uses(self, name: str) -> bool:
        return name in self.names

    @property
    def source_text(self) -> str:
        """The flow file's path as the module docstring shows it (quoted unless plain)."""
        return self.source if re.fullmatch(r"[\w./+-]+", self.source) else py(self.source)

    @property
    def imports3(self) -> list[str]:
        """Names imported from ``airflow.sdk`` on Airflow 3."""
        return sorted((n for n in _SDK_NAMES if n in self.names), key=lambda n: (n[0].islower(), n))

    @property
    def imports3_extra(self) -> list[str]:
        return [line for name, line in _AIRFLOW3_EXTRA if name in self.names]

    @property
    def imports2(self) -> list[str]:
        return [line for name, line in _AIRFLOW2 if name in self.names]


_SDK_NAMES = ("DAG", "Asset", "CronTriggerTimetable", "Param", "TriggerRule", "literal", "task_group")
_AIRFLOW3_EXTRA = (
    ("AirflowSkipException", "from airflow.sdk.exceptions import AirflowSkipException"),
    ("PythonOperator", "from airflow.providers.standard.operators.python import PythonOperator"),
)
_AIRFLOW2 = (  # the Airflow 2.10 homes of the same names
    ("DAG", "from airflow import DAG"),
    ("Asset", "from airflow.datasets import Dataset as Asset"),
    ("task_group", "from airflow.decorators import task_group"),
    ("AirflowSkipException", "from airflow.exceptions import AirflowSkipException"),
    ("Param", "from airflow.models.param import Param"),
    ("literal", "from airflow.utils.template import literal"),
    ("PythonOperator", "from airflow.operators.python import PythonOperator"),
    ("CronTriggerTimetable", "from airflow.timetables.trigger import CronTriggerTimetable"),
    ("TriggerRule", "from airflow.utils.trigger_rule import TriggerRule"),
)


def kw(**values: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in values.items() if v is not None)


def pretty(value: Any, indent: int = 0, column: int = 0, width: int = 99) -> str:
    """``py(value)`` starting at ``column`` of a line indented by ``indent``; broken black-style
    over lines (one entry per line for mappings, packed lists) when it would pass ``width``."""
    flat = py(value)
    if column + len(flat) <= width or not isinstance(value, (list, tuple, dict)) or not value:
        return flat
    inner = indent + 4
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = py(k)
            items.append(f"{key}: {pretty(v, inner, inner + len(key) + 2, width)}")
        lines = items
    else:
        lines = []
        for item in (pretty(v, inner, inner, width) for v in value):
            if lines and "\n" not in item and "\n" not in lines[-1] and \
                    inner + len(lines[-1]) + len(item) + 3 <= width:
                lines[-1] += ", " + item
            else:
                lines.append(item)
    opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
    body = "".join(" " * inner + line + ",\n" for line in lines)
    return opener + "\n" + body + " " * indent + closer


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flowc", "templates/airflow"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py"] = py
    env.filters["pretty"] = pretty
    return env


def render(model: Model) -> str:
    text = _environment().get_template("dag.py.j2").render(m=model)
    # Blank lines as black leaves them: two before a top-level statement, one inside the DAG.
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return re.sub(r"\n{3,}(?= )", "\n\n", text)
