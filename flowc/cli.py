"""The ``flowc`` command: parses options and calls the library, nothing more.

Heavy modules (libcst, jinja2, the targets) are imported inside the commands that need them, so
``flowc run`` and ``flowc --help`` start fast.
"""

from __future__ import annotations

import difflib
import functools
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence, TypeVar

import click

from flowc.compiler import CompileResult
from flowc.compiler.diagnostics import CompileError, one_line, render_json, render_text

_Command = TypeVar("_Command", bound=Callable[..., Any])
_Written = TypeVar("_Written")


def _print_diagnostics(error: CompileError, fmt: str) -> None:
    if fmt == "json":
        click.echo(render_json(error.diagnostics), nl=False)
        return
    from flowc.compiler import read_regular_file

    sources: dict[str, list[str]] = {}
    for diag in error.diagnostics:
        path = diag.span.path
        if path not in sources and diag.span.line:  # never reopen a FIFO or /dev/zero
            try:
                sources[path] = read_regular_file(path).decode("utf-8").splitlines()
            except (CompileError, UnicodeDecodeError):
                sources[path] = []
    click.echo(render_text(error.diagnostics, sources), err=True, nl=False)


def _fail(message: str) -> NoReturn:
    click.echo(f"flowc: error: {one_line(message)}", err=True)
    sys.exit(1)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush of output that could
    not be written does not print a second error at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# Optional installs: the top-level module a command imports lazily -> the extra that provides it.
EXTRAS = {"boto3": ("boto3", "s3"), "botocore": ("boto3", "s3"),
          "airflow_client": ("apache-airflow-client", "airflow")}


def _missing_extra(exc: ModuleNotFoundError) -> "NoReturn":  # noqa: F821 - string annotation
    """A command that needs an optional install says which extra to install, in one line."""
    top = (exc.name or "").split(".")[0]
    if top not in EXTRAS:
        raise exc
    package, extra = EXTRAS[top]
    _fail(f"this command needs {package}, which is not installed: pip install 'flowc[{extra}]'")


def _suggest_param(exc: click.UsageError, args: list[str] | None) -> click.UsageError:
    """``flowc run flow.py --alpha 2``: flow parameters are given with --param NAME=VALUE."""
    command = exc.ctx.command.name if exc.ctx is not None else None
    if not isinstance(exc, click.NoSuchOption) or command not in ("run", "trigger"):
        return exc
    option = exc.option_name
    close = [p for p in set(exc.possibilities or ()) - {"--help"}
             if difflib.SequenceMatcher(None, option, p).ratio() >= 0.8]
    if close:
        return exc  # a misspelled flowc option: click's "did you mean" is the better hint
    tokens = list(sys.argv[1:] if args is None else args)
    value = "VALUE"
    for index, token in enumerate(tokens):
        if token.startswith(option + "="):
            value = token[len(option) + 1:]
        elif token == option and index + 1 < len(tokens) and not tokens[index + 1].startswith("-"):
            value = tokens[index + 1]
    # No possibilities: "did you mean '--help'?" is no help here.
    return click.NoSuchOption(option, f"No such option '{option}': flow parameters are given as "
                              f"--param {option.lstrip('-')}={value}", ctx=exc.ctx)


class _FlowcGroup(click.Group):
    """click exits 2 on bad usage; flowc exits 1 on every kind of bad input (a bad flag is no
    different from a bad flow to a CI job), and 0 only on success."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            _suggest_param(exc, kwargs.get("args", args[0] if args else None)).show()
            sys.exit(1)
        except ModuleNotFoundError as exc:
            _missing_extra(exc)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except OSError as exc:  # e.g. standard output on a full disk or a closed pipe
            _silence_stdout()
            where = f" ({exc.filename})" if exc.filename else " (writing output)"
            _fail(f"{exc.strerror or exc}{where}")
        sys.exit(result if isinstance(result, int) else 0)


def _compile_time_options(command: _Command) -> _Command:
    """--config, --config-value, --pythonpath and --no-evaluate (what a compile may read or run):
    set for the whole command, so every compile underneath (run, deploy...) sees them."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, config_files: Any = (), config_values: Any = (), pythonpath: Any = (),
                no_evaluate: bool = False, **kwargs: Any) -> Any:
        from flowc.compiler.options import CompileOptions, using

        chosen = CompileOptions(tuple(map(tuple, config_files)), tuple(map(tuple, config_values)),
                                tuple(pythonpath), not no_evaluate)
        with using(chosen):
            return command(*args, **kwargs)

    for option in reversed((
        click.option("--config", "config_files", type=(str, str), multiple=True, metavar="NAME PATH",
                     help="Read Config NAME from the file PATH (repeatable)."),
        click.option("--config-value", "config_values", type=(str, str), multiple=True, metavar="NAME TEXT",
                     help="Config NAME's value as text for its parser, JSON by default (repeatable)."),
        click.option("--pythonpath", multiple=True, metavar="DIR",
                     help="Another root for the flow's project-local imports (repeatable)."),
        click.option("--no-evaluate", is_flag=True,
                     help="Refuse to run any code at compile time (Config parser functions, mutators)."),
    )):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]  # the same callable, with more click options


@click.group(cls=_FlowcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowc")
def main() -> None:
    """flowc compiles Metaflow-style flows to Argo Workflows, AWS Step Functions and Airflow
    without importing them, and runs them locally on the same runtime shim.

    \b
    Typical use:
      flowc compile flow.py --target argo -o flow.yaml
      flowc run flow.py --param alpha=0.5
    """


@main.command("compile", short_help="Compile flows to Argo, Step Functions or Airflow specs.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False, path_type=Path))
@click.option("--target", "-t", "target_spec", required=True, metavar="argo,sfn,airflow|all",
              help="Orchestrator(s) to generate specs for: a comma-separated list, or 'all'.")
@click.option("--output", "-o", help="With one flow and one target: the file to write, or '-' "
              "for standard output (the default then).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write <DIR>/<target>/<flow file stem><ext> for every flow and target "
              "(a flow found under a directory argument keeps its folder below it).")
@click.option("--check", is_flag=True, help="Write nothing: compare with the files already in "
              "--output-dir (or -o), print a unified diff and exit 1 when they differ.")
@click.option("--flow", "flow_name", help="The FlowSpec subclass to compile when a file has several.")
@click.option("--image", help="Container image that holds the flow's code and flowc.")
@click.option("--namespace", help="Kubernetes namespace (argo, airflow kubernetes operator).")
@click.option("--service-account", help="Kubernetes service account for the pods.")
@click.option("--datastore-root", help="Datastore root the tasks use, e.g. s3://bucket/prefix.")
@click.option("--max-workers", type=click.IntRange(min=1), help="Most tasks running at once.")
@click.option("--code-dir", help="Directory of the flow's code inside the image.")
@click.option("--argo-version", type=click.Choice(["3.5", "3.6", "3.7", "4"]),
              help="Argo Workflows version to target (3.5 uses CronWorkflow 'schedule:').")
@click.option("--airflow-operator", type=click.Choice(["kubernetes", "local"]),
              help="Run each Airflow task in a pod or as a local subprocess.")
@click.option("--sfn-format", type=click.Choice(["asl", "cloudformation"]),
              help="Step Functions output: the ASL definition or a CloudFormation template.")
@click.option("--sfn-job-queue", help="AWS Batch job queue (sfn).")
@click.option("--sfn-job-definition", help="AWS Batch job definition of every step (sfn, asl format).")
@click.option("--sfn-role-arn", help="Role the state machine assumes (sfn; cloudformation creates one if unset).")
@click.option("--sfn-batch-job-role-arn", help="Role of the Batch job containers (sfn).")
@click.option("--code-package", help="URL of a 'flowc package' archive the tasks fetch and verify "
              "instead of using the code baked into the image.")
@click.option("--branch", help="@project branch (test.BRANCH; prod.BRANCH with --production); "
              "default: your user branch, user.NAME.")
@click.option("--production/--no-production", default=None,
              help="Compile an @project flow for its production branch.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any setting, as in [tool.flowc] (repeatable); `flowc config` lists them.")
@click.option("--format", "diag_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of diagnostics.")
@_compile_time_options
def compile_command(paths: tuple[Path, ...], target_spec: str, output: str | None,
                    output_dir: Path | None, check: bool, flow_name: str | None,
                    diag_format: str, sets: tuple[str, ...], **overrides: Any) -> None:
    """Compile flow files (or directories of them) to orchestrator specs.

    Settings come from [tool.flowc] in the nearest pyproject.toml; flags win. Nothing is written
    when any flow has errors; the exit code is then 1.

    With code = "package" (the default) the specs' tasks fetch the flow's code package, which is
    written beside them (<DIR>/flowc-code/) and named where they will look for it
    (code_package_dir, default <datastore_root>/flowc-code/): `flowc deploy` or `flowc package
    --upload` puts it there. Compiling uploads nothing.

    \b
    Examples:
      flowc compile flow.py --target argo -o flow.yaml
      flowc compile flows/ --target all --output-dir deploy/
      flowc compile flows/ --target all --output-dir deploy/ --check   # in CI
    """
    from flowc.build import build, check_outputs, parse_targets, write_atomically, write_outputs
    from flowc.settings import SettingsError

    try:
        targets = parse_targets(target_spec)
    except ValueError as exc:
        _fail(str(exc))
    if output is not None and output_dir is not None:
        _fail("-o/--output and --output-dir cannot be used together")
    if output_dir is None and (len(paths) != 1 or len(targets) != 1 or paths[0].is_dir()):
        _fail("several flows or targets need --output-dir DIR (-o writes one flow for one target)")
    if check and output_dir is None and output in (None, "-"):
        _fail("--check needs --output-dir DIR or -o FILE to compare with")
    overrides = {**_parse_sets(sets), **{k: v for k, v in overrides.items() if v is not None}}
    try:
        outputs_at = [output_dir] if output_dir is not None else [Path(output)] if output not in (None, "-") else []
        result = build(paths, targets, overrides, flow_name=flow_name, outputs_at=outputs_at)
    except SettingsError as exc:
        _fail(str(exc))
    if result.diagnostics:
        _print_diagnostics(CompileError(result.diagnostics), diag_format)
    if not result.ok:
        sys.exit(1)
    if output_dir is None:
        (single,) = result.outputs
        if check and output is not None:  # --check without -o failed above
            output_dir, single = Path(output).parent, replace(single, relative=Path(Path(output).name))
            result = replace(result, outputs=(single,))
        elif output in (None, "-"):
            click.echo(single.text, nl=False)
            _note_packages(result.outputs, None)
            return
        else:
            _write_or_fail(lambda: write_atomically(Path(output), single.text))
            _note_packages(result.outputs, Path(output).parent)
            return
    if check:
        diff, missing, environment_only = check_outputs(result.outputs, output_dir, overrides, flow_name, outputs_at)
        if missing:
            _print_diagnostics(CompileError(missing), diag_format)
        if diff:
            click.echo(diff, nl=False)
        for line in environment_only:
            click.echo(line)
        if diff or missing:
            click.echo("flowc: committed specs differ from the flows; run the same command "
                       "without --check and commit the result", err=True)
        elif environment_only:
            click.echo("flowc: committed specs differ only in deploy-time environment values; check in "
                       "the environment they were compiled in, or recompile and commit", err=True)
        if diff or missing or environment_only:
            sys.exit(1)
        return
    for path in _write_or_fail(lambda: write_outputs(result.outputs, output_dir)):
        click.echo(f"wrote {path}", err=True)
    _note_packages(result.outputs, output_dir)


def _note_packages(outputs: Sequence[Any], directory: Path | None) -> None:
    """Write the code packages the specs name beside them (not to stdout) and say where the
    tasks will look for them: nothing is uploaded by compiling."""
    from flowc.build import write_packages
    from flowc.targets.base import CODE_PACKAGE_FOLDER

    if directory is not None:
        for path in _write_or_fail(lambda: write_packages(outputs, directory / CODE_PACKAGE_FOLDER)):
            click.echo(f"wrote {path}", err=True)
    for url in sorted({o.package.url for o in outputs if o.package is not None}):
        click.echo(f"flowc: note: the tasks fetch their code from {url}: `flowc deploy` uploads it, "
                   f"as does `flowc package FLOW --upload`", err=True)


def _upload_package(flow_file: Path, archive: Path) -> None:
    from flowc.build import CodePackage
    from flowc.deploy.base import DeployError, upload_package
    from flowc.settings import SettingsError, load_settings

    try:
        settings = load_settings(flow_file, {})
        if settings.datastore_root is None and not settings.code_package_dir:
            _fail("--upload needs datastore_root or code_package_dir in [tool.flowc] (or --set)")
        url = upload_package(CodePackage(settings.package_url(archive.name), archive.read_bytes()))
    except (SettingsError, DeployError) as exc:
        _fail(str(exc))
    click.echo(f"uploaded {url}", err=True)


def _write_or_fail(write: Callable[[], _Written]) -> _Written:
    """Run ``write``; a file that cannot be written is one line naming it, not a traceback."""
    try:
        return write()
    except OSError as exc:
        _fail(f"cannot write {exc.filename or 'output'}: {exc.strerror or exc}")


@main.command("package")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output-dir", "-d", default="dist", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where to write the archive.")
@click.option("--include", multiple=True, metavar="PATTERN",
              help="Only package files matching a gitignore-style pattern (repeatable).")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Leave out files matching a gitignore-style pattern (repeatable).")
@click.option("--environments", "environments_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also build the flow's @pypi/@conda environments into this directory (run it "
                   "in the image build; tasks find them with FLOWC_ENV_CACHE=DIR).")
@click.option("--runtime/--no-runtime", default=True, show_default=True,
              help="Include flowc's runtime (under flowc/), so the image needs only Python.")
@click.option("--upload", is_flag=True,
              help="Also put the archive where compiled specs fetch it: code_package_dir "
                   "(default <datastore_root>/flowc-code).")
def package_command(flow_file: Path, output_dir: Path, include: tuple[str, ...],
                    exclude: tuple[str, ...], environments_dir: Path | None, runtime: bool,
                    upload: bool) -> None:
    """Build a reproducible code package of FLOW_FILE's directory.

    The archive is named <flow stem>-<sha256>.tar.gz and is byte-identical when built twice from
    the same files. Hidden files, __pycache__, the output directory and whatever .gitignore
    ignores are left out; a package the flow imports from beside its directory (same project) is
    included; a symlinked file is packaged only if it points inside the directory; flowc's own
    runtime goes in under flowc/. `flowc compile` names this same archive in the specs it writes
    (with code = "package", the default); --upload puts it where their tasks fetch it, and each
    task verifies the hash before running anything.
    """
    from flowc.package import PackageError, build_package

    try:
        built = build_package(flow_file, output_dir, include, exclude, runtime)
    except PackageError as exc:
        _fail(str(exc))
    if upload:
        _upload_package(flow_file, built.path)
    for link in built.skipped_links:
        click.echo(f"flowc: warning: {link} not packaged (a symlinked directory, or not a regular file)",
                   err=True)
    for name in built.siblings:
        click.echo(f"flowc: note: {name} (imported by the flow, beside its directory) included", err=True)
    click.echo(f"{built.path}  ({len(built.files)} files, sha256 {built.sha256})", err=True)
    click.echo(str(built.path))
    if environments_dir is not None:
        _prebuild_environments(flow_file, environments_dir)


def _prebuild_environments(flow_file: Path, directory: Path) -> None:
    from flowc.environments import prebuild
    from flowc.runtime_shim.environment import StepEnvironmentError

    flow = _compile_or_exit(flow_file, None, "text").flow
    try:
        for env_dir in prebuild(flow, flow_file, directory):
            click.echo(f"environment {env_dir}", err=True)
    except StepEnvironmentError as exc:
        _fail(str(exc))


@main.command("lock", short_help="Pin every @pypi/@conda environment of a flow in a lock file.")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--flow", "flow_name", help="The FlowSpec subclass when the file has several.")
@click.option("--check", is_flag=True, help="Write nothing: exit 1 when the lock misses an environment.")
def lock_command(flow_file: Path, flow_name: str | None, check: bool) -> None:
    """Resolve each @pypi/@conda environment of FLOW_FILE for Linux x86_64 with uv and write
    <flow>.flowc.lock beside it (pinned requirements with hashes); tasks install exactly that."""
    from flowc.environments import stale_environments, write_lock
    from flowc.runtime_shim.environment import StepEnvironmentError

    flow = _compile_or_exit(flow_file, flow_name, "text").flow
    if check:
        stale = stale_environments(flow, flow_file)
        if stale:
            _fail(f"{flow_file}: the lock does not cover step(s) {', '.join(stale)}: run flowc lock")
        return
    try:
        path = write_lock(flow, flow_file)
    except StepEnvironmentError as exc:
        _fail(str(exc))
    click.echo(str(path) if path else f"{flow_file}: no @pypi/@conda environments; nothing to lock")


@main.command("targets", short_help="Show what each target supports, and how it is lowered.")
@click.option("--markdown", is_flag=True, help="Print the matrix as a Markdown table (as in docs/targets.md).")
def targets_command(markdown: bool) -> None:
    """Show what each target supports: construct x target, with how it is lowered or the
    diagnostic that refuses it. Generated from the targets' own capability tables."""
    from flowc.capabilities import render_markdown, render_text

    click.echo(render_markdown() if markdown else render_text(), nl=False)


def _local_run_options(command: _Command) -> _Command:
    """The options `flowc run` and `flowc resume` share (both start a local run)."""
    options = (
        click.option("--max-workers", type=click.IntRange(min=1), default=16, show_default=True,
                     help="Most tasks running at once."),
        click.option("--datastore", metavar="ROOT", help="Datastore root: a directory or "
                     "s3://bucket/prefix (default: FLOWC_DATASTORE or .flowc)."),
        click.option("--run-id-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the new run's id to this file as soon as the run starts."),
        click.option("--flow", "flow_name", help="The FlowSpec subclass when the file has several."),
        click.option("--logs/--no-logs", "echo_logs", default=True, show_default=True,
                     help="Show each task's output when it finishes (it is always stored; "
                     "output the datastore cannot take is shown even with --no-logs)."),
    )
    for option in reversed(options):
        command = option(command)
    return command


@main.command("run", short_help="Run FLOW_FILE locally, every task in its own process.")
@click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value for the run (repeatable).")
@_local_run_options
@click.option("--format", "diag_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of diagnostics.")
@_compile_time_options
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A user tag of the run (repeatable).")
@click.option("--namespace", "namespace", metavar="NS", help="The namespace the client sees inside "
              "the run's tasks (default user:<name>; '' for every run).")
def run_command(flow_file: Path, params: tuple[str, ...], max_workers: int, datastore: str | None,
                run_id_file: Path | None, flow_name: str | None, echo_logs: bool,
                diag_format: str, tags: tuple[str, ...] = (), namespace: str | None = None) -> None:
    """Run FLOW_FILE locally: every task forked from one process that imported the flow once.

    Exit code 0 only when the run succeeded; 130 when stopped with Ctrl-C.
    """
    from flowc.local.api import run_flow
    from flowc.local import RunError
    from flowc.runtime_shim.datastore import DatastoreError

    try:
        result = run_flow(flow_file, params, datastore=datastore, max_workers=max_workers,
                          run_id_file=run_id_file, flow_name=flow_name, echo_logs=echo_logs,
                          tags=tags, namespace=namespace)
    except CompileError as error:
        _print_diagnostics(error, diag_format)
        sys.exit(1)
    except (RunError, DatastoreError, OSError) as exc:
        _fail(str(exc))
    sys.exit(result.exit_code)


@main.command("resume", short_help="Re-run a failed local run, reusing its successful tasks.")
@click.argument("args", nargs=-1, metavar="[FLOW_FILE] [RUN_ID]")
@click.option("--step", help="Re-run from this step (default: the first step that failed).")
@click.option("--target", "-t", metavar="TARGET",
              help="Resume a run of the flow deployed on this engine (argo, sfn, airflow), there.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="With --target: override a [tool.flowc] setting (repeatable).")
@_local_run_options
def resume_command(args: tuple[str, ...], step: str | None, target: str | None, sets: tuple[str, ...],
                   max_workers: int, datastore: str | None, run_id_file: Path | None,
                   flow_name: str | None, echo_logs: bool) -> None:
    """Start a new run that reuses the successful tasks of an earlier run (default: the latest)
    before the first failed step (or --step) and re-runs the rest.

    RUN_ID may be Flow/run_id. Without FLOW_FILE the flow file recorded by the run is used.
    With --target the new run starts on that engine, from the deployed spec: FLOW_FILE and the
    engine's RUN_ID are required, and the new run's id is printed.
    """
    if target is not None:
        _resume_on_engine(args, target, step, sets, flow_name)
        return
    from flowc.local.api import resume_flow
    from flowc.local import RunError
    from flowc.runtime_shim.datastore import DatastoreError

    flow_file: Path | None = None
    origin: str | None = None
    for arg in args:
        if flow_file is None and (arg.endswith(".py") or Path(arg).is_file()):
            flow_file = Path(arg)
        elif origin is None:
            origin = arg
        else:
            _fail(f"unexpected argument {arg!r}: expected [FLOW_FILE] [RUN_ID]")
    try:
        result = resume_flow(flow_file, origin, step=step, datastore=datastore,
                             max_workers=max_workers, run_id_file=run_id_file, flow_name=flow_name,
                             echo_logs=echo_logs)
    except CompileError as error:
        _print_diagnostics(error, "text")
        sys.exit(1)
    except (RunError, DatastoreError, OSError) as exc:
        _fail(str(exc))
    sys.exit(result.exit_code)


def _resume_on_engine(args: tuple[str, ...], target: str, step: str | None, sets: tuple[str, ...],
                      flow_name: str | None) -> None:
    from flowc.deploy import resume

    if len(args) != 2:
        _fail("flowc resume --target needs FLOW_FILE and the RUN_ID of the run to resume")
    info = _engine_call(resume, Path(args[0]), target, args[1], diag_format="text", sets=sets,
                        step=step, flow_name=flow_name)
    click.echo(f"{target}: started run {info.run_id} resuming {args[1]}")


def _compile_or_exit(flow_file: Path, flow_name: str | None, diag_format: str) -> CompileResult:
    """Compile for the inspection commands; diagnostics to stderr, exit 1 on errors."""
    from flowc.compiler import compile_file

    try:
        result = compile_file(flow_file, flow_name=flow_name)
    except CompileError as error:
        _print_diagnostics(error, diag_format)
        sys.exit(1)
    if result.diagnostics and diag_format == "text":
        _print_diagnostics(CompileError(result.diagnostics), diag_format)
    return result


@main.command("ir", short_help="Print the typed IR (or --json the manifest) of FLOW_FILE.")
@click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the flow manifest (versioned JSON) instead.")
@click.option("--flow", "flow_name", help="The FlowSpec subclass when the file has several.")
@click.option("--format", "diag_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of diagnostics.")
@_compile_time_options
def ir_command(flow_file: Path, as_json: bool, flow_name: str | None, diag_format: str) -> None:
    """Print the typed IR of FLOW_FILE: a readable dump, or with --json the manifest the runtime
    shim and the targets consume."""
    from flowc.compiler import ir
    from flowc.compiler.render import dump

    result = _compile_or_exit(flow_file, flow_name, diag_format)
    click.echo(ir.dump_manifest(result.flow) if as_json else dump(result.flow), nl=False)


@main.command("graph")
@click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "graph_format", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid (GitHub renders it) or Graphviz DOT.")
@click.option("--flow", "flow_name", help="The FlowSpec subclass when the file has several.")
@click.option("--diagnostics-format", "diag_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of diagnostics.")
@_compile_time_options
def graph_command(flow_file: Path, graph_format: str, flow_name: str | None, diag_format: str) -> None:
    """Print the step graph of FLOW_FILE as Mermaid or DOT text."""
    from flowc.compiler.render import dot, mermaid

    result = _compile_or_exit(flow_file, flow_name, diag_format)
    click.echo((mermaid if graph_format == "mermaid" else dot)(result.flow), nl=False)


@main.command("explain", short_help="Explain a diagnostic code such as FLOW022, or list them all.")
@click.argument("code", required=False)
def explain_command(code: str | None) -> None:
    """Explain diagnostic CODE (e.g. FLOW022); without CODE, list every code."""
    import difflib

    from flowc.catalogue import load_all

    codes = load_all()
    if code is None:
        for known in codes.values():
            click.echo(f"{known.code}  {known.title}")
        return
    entry = codes.get(code.strip().upper())
    if entry is None:
        close = difflib.get_close_matches(code.strip().upper(), list(codes), n=1)
        _fail(f"unknown diagnostic code {code!r}" + (f"; did you mean {close[0]}?" if close else ""))
    click.echo(f"{entry.code}: {entry.title}\n\n{entry.explanation}")


def _engine_options(command: _Command, flow_required: bool = True) -> _Command:
    """The options deploy, trigger and status share: the engine, the flow, settings overrides."""
    for option in reversed((
        click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path), required=flow_required),
        click.option("--target", "-t", required=flow_required, metavar="TARGET",
                     help="The engine the flow is deployed to (argo, sfn, airflow)."),
        click.option("--flow", "flow_name", help="The FlowSpec subclass when the file has several."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a [tool.flowc] setting (repeatable); never a credential."),
        click.option("--format", "diag_format", type=click.Choice(["text", "json"]), default="text",
                     show_default=True, help="Format of diagnostics."),
    )):
        command = option(command)
    return command


def _engine_call(function: Callable[..., Any], *args: Any, diag_format: str, sets: tuple[str, ...],
                 **kwargs: Any) -> Any:
    """Call a flowc.deploy function; compile errors print as diagnostics, engine errors as one line."""
    from flowc.deploy import DeployError

    settings = _parse_sets(sets)
    try:
        return function(*args, settings, **kwargs)
    except CompileError as error:
        _print_diagnostics(error, diag_format)
        sys.exit(1)
    except DeployError as exc:
        _fail(str(exc))


def _parse_sets(sets: tuple[str, ...]) -> dict[str, str]:
    """``--set KEY=VALUE`` pairs as settings overrides (checked against the known keys later)."""
    settings = {}
    for pair in sets:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"--set {pair!r}: expected KEY=VALUE")
        settings[key.strip().replace("-", "_")] = value
    return settings


@main.command("config", short_help="Print the settings in effect and where each comes from.")
@click.argument("flow_file", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a setting, as compile does.")
def config_command(flow_file: Path, sets: tuple[str, ...]) -> None:
    """Print every setting in effect for FLOW_FILE (default: the current directory) and where
    each value comes from: a default, [tool.flowc] in the nearest pyproject.toml, or --set."""
    from flowc.settings import SettingsError, describe

    try:
        click.echo(describe(flow_file, _parse_sets(sets)), nl=False)
    except SettingsError as exc:
        _fail(str(exc))


@main.command("deploy", short_help="Compile FLOW_FILE and deploy it to an engine (idempotent).")
@_engine_options
@click.option("--code-package-dir", metavar="DIR|s3://BUCKET/PREFIX",
              help="Build the flow's code package, upload it here and deploy a spec that uses it.")
@_compile_time_options
def deploy_command(flow_file: Path, target: str, flow_name: str | None, sets: tuple[str, ...],
                   diag_format: str, code_package_dir: str | None) -> None:
    """Compile FLOW_FILE and create or update its deployment on the engine (idempotent).

    \b
    Examples:
      flowc deploy flow.py --target sfn
      flowc deploy flow.py --target argo --set namespace=flows
      flowc deploy flow.py --target airflow --code-package-dir s3://bucket/code
    """
    from flowc.deploy import deploy

    if code_package_dir:
        sets = (*sets, f"code_package_dir={code_package_dir}")
    deployment, prepared = _engine_call(deploy, flow_file, target, diag_format=diag_format,
                                        sets=sets, flow_name=flow_name)
    for warning in prepared.warnings:
        click.echo(f"flowc: warning: {warning}", err=True)
    for action in deployment.actions:
        click.echo(f"{target}: {action}")


@main.command("trigger", short_help="Start a run of a deployed flow, or publish an event (--event).")
@functools.partial(_engine_options, flow_required=False)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value for the run (repeatable).")
@click.option("--wait", "wait_", is_flag=True, help="Follow the run; exit 0 only if it succeeds.")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --wait: give up after SECONDS.")
@click.option("--event", "event_name", metavar="NAME",
              help="Publish the event NAME that @trigger flows wait for (no FLOW_FILE; --target sfn, the "
                   "default, or argo with the argo_webhook_url setting).")
@click.option("--payload", metavar="JSON", help="With --event: the event's payload, a JSON object.")
@click.option("--bus", help="With --event: the EventBridge bus (default: the sfn_event_bus setting).")
@_compile_time_options  # the flow is compiled to find its deployment: configs can name it
def trigger_command(flow_file: Path | None, target: str | None, flow_name: str | None, sets: tuple[str, ...],
                    diag_format: str, params: tuple[str, ...], wait_: bool,
                    timeout: float | None, event_name: str | None, payload: str | None,
                    bus: str | None) -> None:
    """Start a run of the deployed FLOW_FILE and print its run id; or, with --event, publish an
    event and print its id."""
    from flowc.deploy import trigger, wait

    if event_name is not None or payload is not None or bus is not None:
        _publish_event(event_name, payload, bus, target or "sfn", flow_file, sets)
        return
    if flow_file is None or target is None:
        _fail("flowc trigger needs FLOW_FILE and --target (or --event NAME to publish an event)")

    run = _engine_call(trigger, flow_file, target, params, diag_format=diag_format, sets=sets,
                       flow_name=flow_name)
    click.echo(run.run_id)
    if not wait_:
        return
    final = _engine_call(wait, flow_file, target, run.run_id, diag_format=diag_format, sets=sets,
                         flow_name=flow_name, timeout=timeout,
                         on_change=lambda info: click.echo(f"{info.run_id}: {info.status}", err=True))
    sys.exit(0 if final.successful else 1)


def _publish_event(name: str | None, payload: str | None, bus: str | None, target: str,
                   flow_file: Path | None, sets: tuple[str, ...]) -> None:
    """``flowc trigger --event``: one event, published where the compiled rules listen."""
    from flowc.deploy import DeployError
    from flowc.deploy.events import publish

    if name is None or flow_file is not None:
        _fail("--event NAME publishes an event and takes no FLOW_FILE; --payload and --bus go with --event")
    try:
        click.echo(publish(target, name, payload, bus, _parse_sets(sets)))
    except DeployError as exc:
        _fail(str(exc))


@main.command("status")
@_engine_options
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many recent runs to show.")
@_compile_time_options
def status_command(flow_file: Path, target: str, flow_name: str | None, sets: tuple[str, ...],
                   diag_format: str, limit: int) -> None:
    """Show the recent runs of the deployed FLOW_FILE, newest first."""
    from flowc.deploy import status
    from flowc.deploy.base import format_runs

    runs = _engine_call(status, flow_file, target, diag_format=diag_format, sets=sets,
                        flow_name=flow_name, limit=limit)
    click.echo(format_runs(runs), nl=False)


@main.command("show", short_help="Show a run: status, parameters, steps and end artifacts.")
@click.argument("pathspec", metavar="FLOW/RUN_ID")
@click.option("--datastore", metavar="ROOT", help="Datastore root (default: $FLOWC_DATASTORE or .flowc).")
@click.option("--no-data", is_flag=True, help="Do not load the end step's artifacts.")
def show_command(pathspec: str, datastore: str | None, no_data: bool) -> None:
    """Show a run: status, parameters, steps and the end step's artifacts."""
    from flowc.client import FlowcNotFound, Flow, Run, format_run, namespace
    from flowc.runtime_shim.datastore import DatastoreError

    namespace(None)  # a run named on the command line is shown whoever made it

    try:
        if "/" in pathspec.strip("/"):
            run: Run | None = Run(pathspec, datastore)
        else:
            run = Flow(pathspec, datastore).latest_run
        if run is None:
            _fail(f"flow {pathspec} has no runs")
        click.echo(format_run(run, show_data=not no_data), nl=False)
    except (FlowcNotFound, ValueError, DatastoreError) as exc:
        _fail(str(exc))


@main.command("logs")
@click.argument("pathspec", metavar="FLOW/RUN_ID/STEP[/TASK_ID]")
@click.option("--stderr", "stream", flag_value="stderr", help="Show standard error only.")
@click.option("--stdout", "stream", flag_value="stdout", help="Show standard output only.")
@click.option("--attempt", type=click.IntRange(min=0), help="Attempt to show (default: the latest).")
@click.option("--datastore", metavar="ROOT", help="Datastore root (default: $FLOWC_DATASTORE or .flowc).")
def logs_command(pathspec: str, stream: str | None, attempt: int | None, datastore: str | None) -> None:
    """Print the captured output of a task, or of every task of a step.

    Without --stdout or --stderr both are shown: standard output here, standard error (where a
    failed step's traceback is) on standard error.
    """
    from flowc.client import FlowcNotFound, namespace
    from flowc.runtime_shim.datastore import DatastoreError

    namespace(None)

    try:
        _echo_logs(pathspec, (stream,) if stream else ("stdout", "stderr"), attempt, datastore)
    except FlowcNotFound as exc:
        _fail(f"{exc} (on an engine, a task whose container never started the shim leaves nothing "
              "here: see the engine's own logs, docs/production.md section 8)")
    except (ValueError, DatastoreError) as exc:
        _fail(str(exc))


@main.group("card")
def card_group() -> None:
    """The cards a task rendered (@card): view or get them."""


def _task_cards(pathspec: str, datastore: str | None, card_id: str | None,
                card_type: str | None) -> list[Any]:
    """The cards of FLOW/RUN/STEP[/TASK] (a step must have one task), or exit 1 saying why."""
    from flowc.cards import get_cards
    from flowc.client import FlowcNotFound, Step, Task, namespace
    from flowc.runtime_shim.datastore import DatastoreError

    namespace(None)

    try:
        if len(pathspec.strip("/").split("/")) == 3:
            tasks = Step(pathspec, datastore).tasks()
            if len(tasks) != 1:
                _fail(f"step {pathspec} has {len(tasks)} tasks: name one (FLOW/RUN/STEP/TASK)")
            task = tasks[0]
        else:
            task = Task(pathspec, datastore)
        cards = list(get_cards(task, id=card_id, type=card_type))
    except (FlowcNotFound, ValueError, DatastoreError) as exc:
        _fail(str(exc))
    if not cards:
        _fail(f"task {task.pathspec} has no cards" + (f" with id {card_id!r}" if card_id else "")
              + (f" of type {card_type!r}" if card_type else ""))
    return cards


def _card_options(command: _Command) -> _Command:
    for option in reversed((
            click.argument("pathspec", metavar="FLOW/RUN/STEP[/TASK]"),
            click.option("--id", "card_id", help="Only the card with this id."),
            click.option("--type", "card_type", help="Only cards of this type."),
            click.option("--datastore", metavar="ROOT",
                         help="Datastore root (default: $FLOWC_DATASTORE or .flowc)."))):
        command = option(command)
    return command


@card_group.command("view")
@_card_options
@click.option("--open/--no-open", "open_browser", default=None,
              help="Open the card in a browser (default: when standard output is a terminal).")
def card_view_command(pathspec: str, card_id: str | None, card_type: str | None, datastore: str | None,
                      open_browser: bool | None) -> None:
    """Print the local path of each card of a task (and open the first in a browser)."""
    cards = _task_cards(pathspec, datastore, card_id, card_type)
    for card in cards:
        click.echo(card.path)
    if open_browser or (open_browser is None and sys.stdout.isatty()):
        cards[0].view()


@card_group.command("get")
@_card_options
@click.argument("output", required=False, type=click.Path(dir_okay=False, path_type=Path))
def card_get_command(pathspec: str, card_id: str | None, card_type: str | None, datastore: str | None,
                     output: Path | None) -> None:
    """Write the card's HTML to OUTPUT (standard output without one); the first card unless
    --id or --type picks another."""
    card = _task_cards(pathspec, datastore, card_id, card_type)[0]
    if output is None:
        click.echo(card.get(), nl=False)
    else:
        output.write_text(card.get(), encoding="utf-8")
        click.echo(f"wrote {card.type} card of {pathspec} to {output}", err=True)
def _echo_logs(pathspec: str, streams: tuple[str, ...], attempt: int | None, datastore: str | None) -> None:
    """Each stream to the stream of the same name. Showing both, a stream with no output is left
    out, and when neither has any a note says so: an empty screen never looks like a broken
    command."""
    from flowc.client import logs_of

    wrote = False
    for stream in streams:
        text = logs_of(pathspec, stream, attempt, datastore)
        written = any(not _is_task_header(line) for line in text.splitlines() if line.strip())
        if written or len(streams) == 1:
            click.echo(text, nl=False, err=stream == "stderr")
        wrote = wrote or written
    if not wrote and len(streams) > 1:
        click.echo(f"flowc: {pathspec} wrote nothing to stdout or stderr", err=True)


def _is_task_header(line: str) -> bool:
    """``--- Flow/run/step/task (attempt 0) ---``, the header ``logs_of`` puts above each task."""
    return line.startswith("--- ") and line.endswith(") ---")


if __name__ == "__main__":  # pragma: no cover
    main()
