"""``loopline experiments`` and ``loopline runs``: look at what training logged."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import click

from loopline.cli._output import echo_json, echo_table

__all__ = ["experiments_group", "runs_group"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
uri_option = click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Database URL or folder (default: the project's store).",
)


def _client(tracking_uri: str | None) -> Any:
    from loopline.tracking.client import TrackingClient

    return TrackingClient(tracking_uri)


def _time(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _run_json(run: Any) -> dict[str, Any]:
    return {
        "info": {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "artifact_uri": run.info.artifact_uri,
            "lifecycle_stage": run.info.lifecycle_stage,
            "user_id": run.info.user_id,
        },
        "data": {
            "metrics": dict(run.data.metrics),
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
        },
        "inputs": [
            {
                "path": d.path,
                "oid": d.oid,
                "workspace_matches": d.workspace_matches,
                "context": d.context,
            }
            for d in run.inputs
        ],
    }


@click.group("experiments")
def experiments_group() -> None:
    """List and manage experiments."""


@experiments_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@uri_option
@json_option
def experiments_list(show_all: bool, tracking_uri: str | None, as_json: bool) -> None:
    """List experiments."""
    from loopline.tracking.entities import ViewType

    found = _client(tracking_uri).search_experiments(
        ViewType.ALL if show_all else ViewType.ACTIVE_ONLY
    )
    if as_json:
        echo_json(
            [
                {
                    "experiment_id": e.experiment_id,
                    "name": e.name,
                    "artifact_location": e.artifact_location,
                    "lifecycle_stage": e.lifecycle_stage,
                    "creation_time": e.creation_time,
                    "tags": dict(e.tags),
                }
                for e in found
            ]
        )
        return
    echo_table(
        ("id", "name", "created", "stage"),
        [(e.experiment_id, e.name, _time(e.creation_time), e.lifecycle_stage) for e in found],
    )


@experiments_group.command("create")
@click.argument("name")
@uri_option
def experiments_create(name: str, tracking_uri: str | None) -> None:
    """Create experiment NAME."""
    click.echo(
        f"Created experiment {name!r} with id {_client(tracking_uri).create_experiment(name)}"
    )


@experiments_group.command("delete")
@click.argument("experiment")
@uri_option
def experiments_delete(experiment: str, tracking_uri: str | None) -> None:
    """Mark EXPERIMENT (a name or an id) deleted; `experiments restore` brings it back."""
    client = _client(tracking_uri)
    found = client.find_experiment(experiment)
    client.delete_experiment(found.experiment_id)
    click.echo(f"Deleted experiment {found.name!r} (id {found.experiment_id})")


@experiments_group.command("restore")
@click.argument("experiment")
@uri_option
def experiments_restore(experiment: str, tracking_uri: str | None) -> None:
    """Restore the deleted EXPERIMENT (a name or an id)."""
    client = _client(tracking_uri)
    found = client.find_experiment(experiment)
    client.restore_experiment(found.experiment_id)
    click.echo(f"Restored experiment {found.name!r} (id {found.experiment_id})")


@experiments_group.command("rename")
@click.argument("experiment")
@click.argument("new_name")
@uri_option
def experiments_rename(experiment: str, new_name: str, tracking_uri: str | None) -> None:
    """Rename EXPERIMENT (a name or an id) to NEW_NAME."""
    client = _client(tracking_uri)
    found = client.find_experiment(experiment)
    client.rename_experiment(found.experiment_id, new_name)
    click.echo(f"Renamed experiment {found.name!r} (id {found.experiment_id}) to {new_name!r}")


@click.group("runs")
def runs_group() -> None:
    """List, show, compare and end runs."""


def _experiment_ids(client: Any, experiment: tuple[str, ...]) -> list[str]:
    from loopline.core.errors import NotFound

    if not experiment:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for name in experiment:
        found = client.get_experiment_by_name(name)
        if found is None:
            if name.isdigit():
                ids.append(client.get_experiment(name).experiment_id)
                continue
            raise NotFound(
                f"experiment {name!r} does not exist", hint="see `loopline experiments list`"
            )
        ids.append(found.experiment_id)
    return ids


@runs_group.command("list")
@click.option(
    "-e", "--experiment", multiple=True, help="Experiment name or id (repeatable; default: all)."
)
@click.option(
    "-f",
    "--filter",
    "filter_string",
    default="",
    help="e.g. \"metrics.acc > 0.8 and params.lr = '0.01'\"",
)
@click.option("-o", "--order-by", multiple=True, help="e.g. 'metrics.acc DESC' (repeatable).")
@click.option("-n", "--max-results", default=100, show_default=True, type=click.IntRange(1, 50_000))
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Include deleted runs and the stage runs of `repro` (hidden by default; a filter on "
    "tags.`loopline.stage` shows them too).",
)
@uri_option
@json_option
def runs_list(
    experiment: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    show_all: bool,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first, filtered with MLflow's search syntax.

    Metrics show up to 6 significant digits; --json gives them at full precision.
    """
    from loopline.tracking.entities import ViewType
    from loopline.tracking.listing import list_runs

    client = _client(tracking_uri)
    found = list_runs(
        client,
        _experiment_ids(client, experiment),
        filter_string,
        ViewType.ALL if show_all else ViewType.ACTIVE_ONLY,
        max_results,
        list(order_by) or None,
        include_stage_runs=show_all,
    )
    if as_json:
        echo_json([_run_json(r) for r in found])
        return
    metric_keys = sorted({k for r in found for k in r.data.metrics})[:4]
    rows = [
        (
            r.info.run_id[:12],
            r.info.run_name,
            r.info.status,
            _time(r.info.start_time),
            *(_fmt(r.data.metrics.get(k)) for k in metric_keys),
        )
        for r in found
    ]
    echo_table(("run", "name", "status", "started", *metric_keys), rows)


_SIGNIFICANT = 6


def _fmt(value: float | None) -> str:
    """A metric as people read it: up to 6 significant digits, positional unless tiny or huge."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4 or magnitude >= 15:
        return f"{value:.{_SIGNIFICANT}g}"
    decimals = max(0, _SIGNIFICANT - 1 - magnitude)
    text = f"{round(value, decimals):.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _resolve_run(client: Any, run_id: str) -> Any:
    """A full run id, or a unique prefix of one as `runs list` prints it."""
    from loopline.core.errors import NotFound

    try:
        return client.get_run(run_id)
    except NotFound:
        if len(run_id) < 4:
            raise
    matches = [
        r
        for r in client.search_runs(
            [e.experiment_id for e in client.search_experiments()], max_results=50_000
        )[0]
        if r.info.run_id.startswith(run_id)
    ]
    if len(matches) != 1:
        raise NotFound(
            f"run {run_id!r} does not exist or is ambiguous ({len(matches)} matches)",
            hint="pass the full run id from `loopline runs list --json`",
        )
    return matches[0]


@runs_group.command("show")
@click.argument("run_id")
@uri_option
@json_option
def runs_show(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show one run: status, params, latest metrics, tags and the data it used."""
    run = _resolve_run(_client(tracking_uri), run_id)
    if as_json:
        echo_json(_run_json(run))
        return
    info = run.info
    click.echo(f"run {info.run_id} ({info.run_name}) in experiment {info.experiment_id}")
    ended = _time(info.end_time) or "-"
    click.echo(f"  status {info.status}, started {_time(info.start_time)}, ended {ended}")
    click.echo(f"  artifacts {info.artifact_uri}")
    for title, values in (
        ("params", run.data.params),
        ("metrics", run.data.metrics),
        ("tags", run.data.tags),
    ):
        if values:
            click.echo(f"{title}:")
            for key in sorted(values):
                click.echo(f"  {key}: {values[key]}")
    if run.inputs:
        click.echo("data:")
        for d in run.inputs:
            note = {False: " (workspace differed from the tracked version)", True: ""}
            click.echo(f"  {d.path}: {d.oid}{note.get(d.workspace_matches, '')}")


@runs_group.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@uri_option
@json_option
def runs_compare(run_ids: tuple[str, ...], tracking_uri: str | None, as_json: bool) -> None:
    """Params and metrics of several runs side by side (differences first)."""
    client = _client(tracking_uri)
    found = [_resolve_run(client, r) for r in run_ids]
    keys = [("param", k) for k in sorted({k for r in found for k in r.data.params})]
    keys += [("metric", k) for k in sorted({k for r in found for k in r.data.metrics})]

    def value(run: Any, kind: str, key: str) -> Any:
        return (run.data.params if kind == "param" else run.data.metrics).get(key)

    if as_json:
        echo_json(
            {
                "runs": [r.info.run_id for r in found],
                "params": {
                    k: [value(r, "param", k) for r in found] for kind, k in keys if kind == "param"
                },
                "metrics": {
                    k: [value(r, "metric", k) for r in found]
                    for kind, k in keys
                    if kind == "metric"
                },
            }
        )
        return
    differing = [(kind, k) for kind, k in keys if len({str(value(r, kind, k)) for r in found}) > 1]
    same = [key for key in keys if key not in differing]
    rows = [
        (f"{kind}s.{k}", *(_cell(value(r, kind, k)) for r in found)) for kind, k in differing + same
    ]
    echo_table(("", *(r.info.run_name or r.info.run_id[:12] for r in found)), rows)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return _fmt(value) if isinstance(value, float) else str(value)


@runs_group.command("end")
@click.argument("run_id")
@click.option(
    "--status",
    type=click.Choice(["FINISHED", "FAILED", "KILLED"]),
    default="FAILED",
    show_default=True,
)
@uri_option
def runs_end(run_id: str, status: str, tracking_uri: str | None) -> None:
    """Mark a run ended, e.g. one whose process was killed (default: FAILED)."""
    client = _client(tracking_uri)
    run = _resolve_run(client, run_id)
    client.set_terminated(run.info.run_id, status)
    click.echo(f"Run {run.info.run_id} marked {status}")


@runs_group.command("delete")
@click.argument("run_id")
@uri_option
def runs_delete(run_id: str, tracking_uri: str | None) -> None:
    """Mark a run deleted (restore with `runs restore`)."""
    client = _client(tracking_uri)
    client.delete_run(_resolve_run(client, run_id).info.run_id)
    click.echo(f"Deleted run {run_id}")


@runs_group.command("restore")
@click.argument("run_id")
@uri_option
def runs_restore(run_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted run."""
    client = _client(tracking_uri)
    client.restore_run(run_id)
    click.echo(f"Restored run {run_id}")
