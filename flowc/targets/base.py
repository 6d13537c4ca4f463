"""What every target is: a name, typed settings of its own, a capability table, and ``emit``.

A target module defines a ``Target`` subclass and decorates it with ``flowc.targets.register``;
the CLI, ``flowc targets``, ``flowc explain``, the Python API and deploy find it through the
registry, so a new target is one module (plus its templates, tests and goldens).

``emit`` first checks the plan against the capability table (one reporting function, as sqlglot's
``unsupported()``), then the target's own checks, then renders. It never raises on a flow it
cannot express: it returns diagnostics pointing at the source, and no text.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, TypeVar

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.plan import CONSTRUCT_NAMES, FlowPlan

T = TypeVar("T", bound="TargetSettings")
# The folder of code packages under a datastore root: no flow can be named so (not an identifier).
CODE_PACKAGE_FOLDER = "flowc-code"


def setting(default: Any, help: str, choices: tuple[str, ...] = ()) -> Any:
    """A settings field with the help text ``flowc config`` and docs show, and its allowed values."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """Base of a target's own settings. In ``[tool.flowc]`` and ``--set`` a field ``version`` of
    target ``argo`` is written ``argo_version`` (or ``version`` in a ``[tool.flowc.argo]`` table)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings every target shares, plus each target's own (``of``)."""

    image: str = setting("python:3.11-slim", "container image of the tasks: any with Python 3.10+ "
                         "(and pip, or boto3, for an s3:// datastore) when code is 'package'")
    namespace: str | None = setting(None, "Kubernetes namespace (argo, airflow's kubernetes operator)")
    service_account: str | None = setting(None, "Kubernetes service account of the pods")
    datastore_root: str | None = setting(None, "datastore root the tasks use, e.g. s3://bucket/prefix "
                                         "(required: flowc never picks a bucket for you)")
    max_workers: int = setting(100, "most tasks running at once")
    code: str = setting("package", "how tasks get the flow's code and flowc's runtime: 'package' (a "
                        "code package they fetch from code_package_dir and verify), 'image' (baked into "
                        "the image at code_dir, flowc installed)", ("package", "image"))
    code_dir: str = setting("/app", "code 'image': directory of the flow's code inside the image")
    python: str = setting("python", "the Python that runs the shim inside the image")
    code_package: str | None = setting(None, "URL of a `flowc package` archive the tasks fetch and "
                                       "verify (default: the flow's, in code_package_dir)")
    code_package_dir: str | None = setting(None, "where code packages live and `flowc deploy` uploads "
                                           "them (a directory or s3:// prefix; default: "
                                           "<datastore_root>/flowc-code)")
    aws_region: str | None = setting(None, "deploy: AWS region of the engine's API and uploads")
    branch: str | None = setting(None, "@project branch to deploy to (test.<branch>; prod.<branch> with "
                                 "production); default: the deployer's user.<name>")
    production: bool = setting(False, "deploy an @project flow to its production branch")
    targets: tuple[TargetSettings, ...] = ()

    def package_url(self, name: str) -> str:
        """Where the code package ``name`` lives: in ``code_package_dir``, else beside the
        datastore's runs."""
        directory = self.code_package_dir or self.datastore.rstrip("/") + "/" + CODE_PACKAGE_FOLDER
        return directory.rstrip("/") + "/" + name

    @property
    def datastore(self) -> str:
        """The datastore root, which ``Target.emit`` checked is set before any target reads it."""
        if self.datastore_root is None:
            raise AssertionError("datastore_root is checked by Target.emit")
        return self.datastore_root

    def of(self, cls: type[T]) -> T:
        """The settings of one target (its defaults when none were given)."""
        for own in self.targets:
            if type(own) is cls:
                return own
        return cls()


@dataclass(frozen=True, slots=True)
class Capability:
    """How a target carries a construct. ``refusal`` (a FLOWnnn code) makes using it an error;
    ``caveat`` (a code) makes it a warning: carried, but not fully (``how`` says what happens)."""

    how: str
    refusal: str | None = None
    caveat: str | None = None
    hint: str | None = None

    @property
    def cell(self) -> str:
        """The text of the capability matrix."""
        if self.refusal:
            return f"refused ({self.refusal})"
        return f"{self.how} ({self.caveat})" if self.caveat else self.how


def supported(how: str) -> Capability:
    return Capability(how)


def refused(code: str, hint: str, why: str = "not supported") -> Capability:
    return Capability(why, refusal=code, hint=hint)


def with_caveat(code: str, how: str, hint: str) -> Capability:
    return Capability(how, caveat=code, hint=hint)


@dataclass(frozen=True, slots=True)
class Emitted:
    """What a target produced: the spec text (empty when errors were found), the file extension
    it is written with (``.yaml``, ``.json``, ``.py``) and diagnostics, warnings included."""

    text: str
    extension: str
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.severity == ERROR for d in self.diagnostics)


class Target(ABC):
    """One orchestrator. Subclasses set the class attributes and implement ``check`` and ``render``."""

    name: ClassVar[str]  # "argo": the --target value, the golden/ and output directory
    title: ClassVar[str]  # "Argo Workflows": what messages call it
    extension: ClassVar[str]
    settings_type: ClassVar[type[TargetSettings]] = TargetSettings
    capabilities: ClassVar[Mapping[str, Capability]]
    deploy_engine: ClassVar[str | None] = None  # module whose ENGINE deploys, triggers, reports

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = getattr(cls, "capabilities", None)
        if table is not None and set(table) != CONSTRUCT_NAMES:
            missing = sorted(CONSTRUCT_NAMES - set(table))
            unknown = sorted(set(table) - CONSTRUCT_NAMES)
            raise TypeError(f"{cls.__name__}.capabilities must cover every construct exactly "
                            f"(missing {missing}, unknown {unknown})")

    def emit(self, plan: FlowPlan, settings: Settings) -> Emitted:
        """The spec of ``plan``, or no text and the diagnostics saying why. Every diagnostic is
        prefixed with the target's name: the same flow may compile for one target and not another."""
        if settings.datastore_root is None:
            return Emitted("", self.extension, (self._prefixed(no_datastore(plan)),))
        diagnostics = self.capability_diagnostics(plan) + self.check(plan, settings)
        text = ""
        if not any(d.severity == ERROR for d in diagnostics):
            text, problems = self.render(plan, settings)
            diagnostics += problems
        ours = tuple(self._prefixed(d) for d in diagnostics)
        failed = any(d.severity == ERROR for d in ours)
        return Emitted("" if failed else text, self.extension, ours)

    def _prefixed(self, diagnostic: Diagnostic) -> Diagnostic:
        prefix = f"{self.name}: "
        if diagnostic.message.startswith(prefix):
            return diagnostic
        return dataclasses.replace(diagnostic, message=prefix + diagnostic.message)

    def capability_diagnostics(self, plan: FlowPlan) -> list[Diagnostic]:
        """One diagnostic per use of a construct the table refuses or carries with a caveat, and
        per step environment the shim would refuse to build."""
        out = [Diagnostic(BAD_ENVIRONMENT, s.python_environment.problem, s.python_environment.span, ERROR,
                          "see docs/environments.md")
               for s in plan.steps if s.python_environment is not None and s.python_environment.problem]
        out += [Diagnostic(BAD_SECRET, problem, s.step.decorator(ir.Secrets).span, ERROR,
                           "use 'aws-secrets-manager:NAME' (or a bare name or ARN), 'env:NAME' or 'file:PATH'")
                for s in plan.steps for problem in s.secret_problems]
        for use in plan.uses:
            cap = self.capabilities[use.construct]
            if cap.refusal:
                out.append(unsupported(cap.refusal, use.detail, self.title, use.span, cap.hint or ""))
            elif cap.caveat:
                out.append(Diagnostic(cap.caveat, f"{use.detail} on {self.title}: {cap.how}", use.span,
                                      WARNING, cap.hint))
        return out

    @abstractmethod
    def check(self, plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
        """What this target refuses or warns about beyond its capability table (values it cannot
        carry, settings that do not fit together), collected before anything is built."""

    @abstractmethod
    def render(self, plan: FlowPlan, settings: Settings) -> tuple[str, list[Diagnostic]]:
        """The spec text, and problems only building it can find (sizes, limits)."""


NO_DATASTORE = register("FLOW280", "no datastore root set", """
Every task reads and writes its artifacts under the datastore root, and flowc never picks a
bucket for you: a default would be someone else's. Set it in the project's pyproject.toml

    [tool.flowc]
    datastore_root = "s3://your-bucket/flowc"

or with --datastore-root (--set datastore_root=... on deploy). `flowc config` shows the settings
in effect and where each one comes from.""")


BAD_ENVIRONMENT = register("FLOW281", "a step environment that cannot be built", """
The shim builds each step's @pypi / @conda environment with uv when the task starts. It refuses
PyPI and conda packages mixed in one step (as Metaflow does) and conda packages that exist only
on conda channels (uv installs from PyPI); docs/environments.md lists the rules.""")


BAD_SECRET = register("FLOW282", "an @secrets source flowc cannot read", """
The shim reads @secrets sources from AWS Secrets Manager (a bare name, an ARN or
'aws-secrets-manager:NAME', Metaflow's default source), the environment ('env:NAME') and files
('file:PATH', e.g. a mounted Kubernetes secret). Kubernetes secrets are exposed natively with
@kubernetes(secrets=[...]), which every Kubernetes target turns into envFrom.""")


def no_datastore(plan: FlowPlan) -> Diagnostic:
    return Diagnostic(NO_DATASTORE, "no datastore root is set; the tasks would have nowhere to keep "
                      "their artifacts", plan.flow.span, ERROR,
                      "set datastore_root in [tool.flowc] (pyproject.toml) or pass --datastore-root "
                      "s3://bucket/prefix")


def unsupported(code: str, construct: str, target: str, span: ir.Span, way_out: str) -> Diagnostic:
    """The error a target returns for a construct it cannot express, pointing at the source."""
    return Diagnostic(code=code, message=f"{construct} cannot be expressed on {target}", span=span,
                      severity=ERROR, hint=way_out or None)


def settings_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    """The user-facing fields of a settings dataclass (``Settings.targets`` is not one)."""
    return tuple(f for f in dataclasses.fields(cls) if f.name != "targets")
