"""Pipeline commands: repro, dag, params diff, metrics show/diff (``status`` lives in data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from loopline.cli._output import echo_json, echo_table, git_add_args

__all__ = ["dag_command", "metrics_group", "params_group", "repro_command"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
rev_argument = click.argument("rev", default="HEAD")
all_option = click.option("--all", "show_all", is_flag=True, help="Also show unchanged values.")


def _project_root(init_if_missing: bool = False) -> Path:
    """The project around the current folder; with ``init_if_missing``, a folder holding a
    pipeline file but no ``.loopline/`` becomes a project (and says so)."""
    from loopline.core.errors import NotFound
    from loopline.core.project import find_project_root

    try:
        return find_project_root()
    except NotFound:
        from loopline.pipeline import find_pipeline_file

        here = Path.cwd()
        if not init_if_missing or find_pipeline_file(here) is None:
            raise
        from loopline.data.init import init_project

        init_project(here)
        click.echo(f"Initialized a Loopline project in {here} (found {find_pipeline_file(here)})")
        return here


@click.command("repro")
@click.argument("targets", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Run the stages even if nothing changed.")
@click.option("-s", "--single-item", is_flag=True, help="Run only the targets, not upstream.")
@click.option("--dry", is_flag=True, help="Only print what would run.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, help="Stages at once.")
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    help="Where commands run: local processes, or a Dask cluster.",
)
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT).")
@click.option(
    "-r",
    "--remote",
    metavar="NAME",
    help="Dask: move deps and outs through this remote (for workers on other machines).",
)
@click.pass_context
def repro_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    force: bool,
    single_item: bool,
    dry: bool,
    jobs: int,
    executor: str,
    scheduler: str | None,
    remote: str | None,
) -> None:
    """Run the stale stages of the pipeline (dvc.yaml), in dependency order.

    A stage is stale when its command, a dep's content, a param it uses, or an out changed.
    Stages whose exact inputs ran before are restored from the run cache. Each stage that
    runs is recorded as a run (see `loopline runs list`).
    """
    from loopline.pipeline import repro

    root = _project_root(init_if_missing=True)
    runner = _executor(ctx, root, executor, jobs, scheduler, remote)
    streamed = executor == "local"
    try:
        result = repro(
            root,
            list(targets),
            force=force,
            single=single_item,
            dry=dry,
            executor=runner,
            on_report=_print_report(streamed),
            on_start=_print_start,
        )
    finally:
        runner.close()
    if dry:
        if result.refusal is not None:
            click.secho(
                f"warning: repro would refuse to start: {result.refusal.message}",
                fg="yellow",
                err=True,
            )
            click.echo(f"hint: {result.refusal.hint}", err=True)
        return
    ran = result.by_action("ran") + result.by_action("restored")
    if not ran:
        click.echo("Data and pipelines are up to date.")
        return
    if result.run_id:
        click.echo(f"Recorded as pipeline run {result.run_id} (see `loopline runs list`).")
    _git_add_hint(root, result.git_files)


def _git_add_hint(root: Path, files: list[str]) -> None:
    if files:
        click.echo(
            f"To track the changes with git, run:\n\n\tgit add {git_add_args(root, files)}\n"
        )


def _executor(
    ctx: click.Context,
    root: Path,
    kind: str,
    jobs: int,
    scheduler: str | None,
    remote: str | None,
) -> Any:
    if kind == "local":
        from loopline.pipeline import LocalExecutor

        if scheduler or remote:
            raise click.UsageError("--scheduler and --remote go with --executor dask")
        return LocalExecutor(jobs, echo=click.echo)
    from loopline.core.config import load_settings
    from loopline.pipeline import DaskExecutor

    overrides = (ctx.find_root().obj or {}).get("overrides", {})
    settings = load_settings(root, overrides)
    config = settings.remote(remote) if remote else None
    return DaskExecutor(scheduler, remote=config)


def _print_start(stage: Any) -> None:
    click.echo(f"Running stage '{stage.name}':")


def _print_report(streamed: bool) -> Any:
    def show(report: Any) -> None:
        name = report.name
        if report.action == "unchanged":
            click.echo(f"Stage '{name}' didn't change, skipping")
        elif report.action == "frozen":
            click.echo(f"Stage '{name}' is frozen, skipping")
        elif report.action == "restored":
            click.echo(
                f"Stage '{name}' is cached: restored its outputs from the run cache "
                "(the same inputs ran before)"
            )
        elif report.action == "would run":
            click.echo(f"Would run stage '{name}' ({report.reasons})")
        elif report.action == "ran":
            if not streamed and report.log_tail:
                click.echo(report.log_tail)
            click.echo(f"Stage '{name}' finished in {report.duration:.2f} s\n")
            for warning in report.warnings:
                click.secho(f"warning: stage '{name}': {warning}", fg="yellow", err=True)
        elif report.action == "failed" and not streamed and report.log_tail:
            click.echo(f"--- last lines of output of '{name}' ---", err=True)
            click.echo(report.log_tail, err=True)

    return show


@click.command("dag")
@click.option("--mermaid", is_flag=True, help="Print a Mermaid flowchart.")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT.")
def dag_command(mermaid: bool, dot: bool) -> None:
    """Show the stage graph (each stage with the stages it depends on)."""
    from loopline.pipeline import load_pipeline, render_dag

    if mermaid and dot:
        raise click.UsageError("--dot and --mermaid print different formats: choose one")
    style = "mermaid" if mermaid else "dot" if dot else "text"
    click.echo(render_dag(load_pipeline(_project_root()), style))


@click.group("params")
def params_group() -> None:
    """Compare parameters (params.yaml and the params files stages use)."""


@params_group.command("diff")
@rev_argument
@all_option
@json_option
def params_diff_command(rev: str, show_all: bool, as_json: bool) -> None:
    """Show params that differ between git revision REV (default HEAD) and the workspace."""
    from loopline.pipeline import params_diff

    _print_diff(params_diff(_project_root(), rev, show_all=show_all), rev, "Param", as_json)


@click.group("metrics")
def metrics_group() -> None:
    """Show and compare the metrics files stages write."""


@metrics_group.command("show")
@json_option
def metrics_show_command(as_json: bool) -> None:
    """Show the values in the pipeline's metrics files."""
    from loopline.pipeline import metrics_show

    shown = metrics_show(_project_root())
    files = shown[""]["data"]
    if as_json:
        echo_json(shown)
    elif not files:
        click.echo("No metrics files: mark them with 'metrics:' in a stage.")
        return
    else:
        _print_metrics(files)
    unreadable = [
        (name, c["error"]["msg"])
        for name, c in files.items()
        if "error" in c and c["error"]["type"] == "InvalidInput"
    ]
    if unreadable:
        from loopline.core.errors import InvalidInput

        name, why = unreadable[0]
        others = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise InvalidInput(
            f"{why}{others}", hint=f"fix {name} or the stage that writes it, then show again"
        )


def _print_metrics(files: dict[str, Any]) -> None:
    from loopline.pipeline._params import flatten

    flat: dict[str, dict[str, Any]] = {}
    for name, content in files.items():
        if "error" in content:
            click.echo(f"{name}: {content['error']['msg']}")
            continue
        flat[name] = flatten(content["data"])
    columns = list(dict.fromkeys(key for values in flat.values() for key in values))
    rows = [(name, *(_show(v.get(k, "-")) for k in columns)) for name, v in flat.items()]
    if rows:  # one table, as `dvc metrics show` prints: a column per metric, "-" where absent
        echo_table(("Path", *columns), rows)


@metrics_group.command("diff")
@rev_argument
@all_option
@json_option
def metrics_diff_command(rev: str, show_all: bool, as_json: bool) -> None:
    """Show metrics that differ between git revision REV (default HEAD) and the workspace."""
    from loopline.pipeline import metrics_diff, metrics_show

    root = _project_root()
    diff = metrics_diff(root, rev, show_all=show_all)
    files = metrics_show(root)[""]["data"]
    unreadable = [(name, c["error"]["msg"]) for name, c in files.items() if "error" in c]
    if not as_json and files and len(unreadable) == len(files):  # nothing was compared
        from loopline.core.errors import InvalidInput

        name, why = unreadable[0]
        others = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise InvalidInput(
            f"no metrics to compare: no metrics file could be read: {why}{others}",
            hint=f"fix {name} or run the stage that writes it, then compare again",
        )
    _print_diff(diff, rev, "Metric", as_json)
    if not as_json:
        for name, why in unreadable:
            click.secho(f"warning: {name} was left out: {why}", fg="yellow", err=True)


def _print_diff(diff: dict[str, Any], rev: str, what: str, as_json: bool) -> None:
    if as_json:
        echo_json(diff)
        return
    if not diff:
        click.echo(f"No {what.lower()} changes since {rev}.")
        return
    rows = [
        (path, key, _show(v["old"]), _show(v["new"]), _show(v.get("diff", "-")))
        for path, values in diff.items()
        for key, v in values.items()
    ]
    echo_table(("Path", what, rev, "workspace", "Change"), rows)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
