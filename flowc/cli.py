"""The ``flowc`` command: parses options and calls the library, nothing more.

Heavy modules (libcst, jinja2, the targets) are imported inside the commands that need them, so
``flowc run`` and ``flowc --help`` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flowc.compiler.diagnostics import CompileError, render_json, render_text


def _print_diagnostics(error: CompileError, fmt: str) -> None:
    if fmt == "json":
        click.echo(render_json(error.diagnostics), nl=False)
        return
    sources: dict[str, list[str]] = {}
    for diag in error.diagnostics:
        path = diag.span.path
        if path not in sources:
            try:
                sources[path] = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                sources[path] = []
    click.echo(render_text(error.diagnostics, sources), err=True, nl=False)


def _fail(message: str) -> "NoReturn":  # noqa: F821 - string annotation
    click.echo(f"flowc: error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowc")
def main() -> None:
    """flowc compiles Metaflow-style flows to Argo Workflows, AWS Step Functions and Airflow
    without importing them, and runs them locally on the same runtime shim.

    \b
    Typical use:
      flowc compile flow.py --target argo -o flow.yaml
      flowc run flow.py --param alpha=0.5
    """


@main.command("compile")
@click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", "-t", required=True, type=click.Choice(["argo", "sfn", "airflow"]),
              help="Orchestrator to generate a spec for.")
@click.option("--output", "-o", default="-", show_default=True,
              help="File to write, or '-' for standard output.")
@click.option("--flow", "flow_name", help="The FlowSpec subclass to compile when the file has several.")
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
@click.option("--format", "diag_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of diagnostics.")
def compile_command(flow_file: Path, target: str, output: str, flow_name: str | None,
                    diag_format: str, **overrides) -> None:
    """Compile FLOW_FILE to the spec of one orchestrator.

    Nothing is written when the flow has errors; the exit code is then 1.
    """
    from flowc.compiler import compile_file
    from flowc.settings import SettingsError, load_settings
    from flowc.targets import get_target

    try:
        settings = load_settings(flow_file, overrides)
    except SettingsError as exc:
        _fail(str(exc))
    try:
        result = compile_file(flow_file, flow_name=flow_name)
        emitted = get_target(target).emit(result.flow, settings)
        diagnostics = (*result.diagnostics, *emitted.diagnostics)
        if any(d.severity == "error" for d in diagnostics):
            raise CompileError(diagnostics)
    except CompileError as error:
        _print_diagnostics(error, diag_format)
        sys.exit(1)
    warnings = [d for d in diagnostics if d.severity != "error"]
    if warnings:
        _print_diagnostics(CompileError(warnings), diag_format)
    text = emitted.text
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
