"""``loopline monitor performance|alerts|dashboard|run``: realized performance on delayed labels,
Prometheus alerting rules, the Grafana dashboard and scheduled evaluations with exported gauges."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loopline.cli._monitor_output import show_comparison, show_evaluations, show_result
from loopline.cli._output import echo_json, echo_table

if TYPE_CHECKING:
    from loopline.monitoring.performance import PerformanceMonitor

__all__ = ["COMMANDS"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
log_dir_option = click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    help="The model server's --log-dir (default: the project's .loopline/serving).",
)


def _window_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--window", metavar="DURATION", help="The last DURATION: 15m, 1h, 7d."),
            click.option(
                "--delay",
                metavar="DURATION",
                help="End the --window this long ago, so that its labels had time to arrive.",
            ),
            click.option("--since", metavar="TIME", help="Window start, ISO 8601 (UTC default)."),
            click.option("--until", metavar="TIME", help="Window end (exclusive), ISO 8601."),
        ]
    ):
        function = option(function)
    return function


def _monitor_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--min-labels",
                type=click.IntRange(1),
                default=30,
                show_default=True,
                help="Labelled rows a window needs before it is judged.",
            ),
            click.option(
                "--task",
                type=click.Choice(["classification", "regression"]),
                help="What the model does (default: inferred from its predictions).",
            ),
            click.option(
                "--classes",
                metavar="A,B,...",
                help="The model's classes in the order of its probabilities (default: sorted).",
            ),
        ]
    ):
        function = option(function)
    return function


def _require_monitoring_extra() -> None:
    import importlib.util

    from loopline.core.errors import MissingExtra

    for module in ("numpy", "pyarrow", "sklearn"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(module, "monitor")


def _log_root(log_dir: str | None) -> Path:
    from loopline.serving.inference_log import default_log_root

    return Path(log_dir) if log_dir else default_log_root()


def _monitor(
    min_labels: int, task: str | None, classes: str | None, bucket: str | None = None
) -> PerformanceMonitor:
    from loopline.monitoring._timespan import parse_duration
    from loopline.monitoring.performance import PerformanceMonitor

    return PerformanceMonitor(
        task=task,  # type: ignore[arg-type]
        classes=[_number_or_text(c.strip()) for c in classes.split(",")] if classes else None,
        min_labels=min_labels,
        bucket=parse_duration(bucket, what="--bucket") if bucket else None,
    )


def _number_or_text(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


# -- performance ------------------------------------------------------------------------------


@click.command("performance")
@click.argument("model")
@click.option("--version", help="One version of MODEL (default: every version in the window).")
@click.option(
    "--challenger",
    metavar="VERSION",
    help="Compare with this version over the same window (--version is the champion).",
)
@_window_options
@click.option("--bucket", metavar="DURATION", help="Also show performance per bucket: 1h, 1d.")
@_monitor_options
@log_dir_option
@json_option
def performance_command(
    model: str,
    version: str | None,
    challenger: str | None,
    window: str | None,
    delay: str | None,
    since: str | None,
    until: str | None,
    bucket: str | None,
    min_labels: int,
    task: str | None,
    classes: str | None,
    log_dir: str | None,
    as_json: bool,
) -> None:
    """Realized performance of MODEL on the labels that have arrived (`loopline feedback`).

    The window selects requests by the time they were answered; labels count whenever they
    arrive. A window with fewer than --min-labels labelled rows is reported as such, without
    metric values. Labels for request ids that are not in the log are counted and shown.
    """
    from loopline.core.errors import InvalidInput
    from loopline.monitoring._timespan import resolve_window
    from loopline.monitoring.performance import compare_versions, evaluate_performance

    _require_monitoring_extra()
    start, end = resolve_window(window, since, until, delay=delay)
    monitor = _monitor(min_labels, task, classes, bucket)
    root = _log_root(log_dir)
    if challenger is not None:
        if version is None:
            raise InvalidInput(
                "--challenger needs --version, the champion to compare with",
                hint=f"loopline monitor performance {model} --version 1 --challenger 2",
            )
        comparison = compare_versions(
            root, model, version, challenger, start=start, end=end, monitor=monitor
        )
        if as_json:
            echo_json(comparison.to_dict())
        else:
            show_comparison(comparison)
        return
    result = evaluate_performance(
        root, model, version=version, start=start, end=end, monitor=monitor
    )
    if as_json:
        echo_json(result.to_dict())
    else:
        show_result(result)


# -- alerts -----------------------------------------------------------------------------------


def _floors(pairs: tuple[str, ...]) -> Any:
    from loopline.core.errors import InvalidInput
    from loopline.monitoring.alerts import PerformanceFloor

    floors = []
    for pair in pairs:
        metric, sep, value = pair.partition("=")
        try:
            bound = float(value)
        except ValueError:
            bound = math.nan
        if not sep or not math.isfinite(bound):
            raise InvalidInput(
                f"--floor {pair!r} is not METRIC=VALUE",
                hint="e.g. --floor accuracy=0.8 or --floor rmse=12 (losses and errors: a ceiling)",
            )
        floors.append(PerformanceFloor(metric.strip(), bound))
    return tuple(floors)


@click.command("alerts")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the rule file here (default: print).",
)
@click.option("--model", help="Limit every rule to this model (and alert when it vanishes).")
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.05,
    show_default=True,
    help="Share of 5xx responses over 5 minutes that alerts.",
)
@click.option(
    "--latency-p95",
    type=click.FloatRange(0, min_open=True),
    default=0.5,
    show_default=True,
    help="p95 prediction latency in seconds that alerts.",
)
@click.option(
    "--no-traffic-for",
    default="15m",
    show_default=True,
    metavar="DURATION",
    help="Alert when a model answered nothing for this long.",
)
@click.option(
    "--drift-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Share of drifted columns that alerts.",
)
@click.option(
    "--floor",
    "floors",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Performance bound (repeatable; default accuracy=0.8). Losses and errors "
    "(log_loss, mae, rmse, mape) alert above the value.",
)
@click.option(
    "--min-labels",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Labelled rows before a performance bound applies.",
)
@click.option(
    "--for",
    "hold",
    metavar="DURATION",
    help="Use this `for:` in every alert instead of each one's default.",
)
@click.option("--interval", metavar="DURATION", help="Rule evaluation interval of the groups.")
@click.option("--runbook-url", metavar="URL", help="Base address of your runbook pages.")
def alerts_command(
    output: str | None,
    model: str | None,
    error_rate: float,
    latency_p95: float,
    no_traffic_for: str,
    drift_share: float,
    floors: tuple[str, ...],
    min_labels: int,
    hold: str | None,
    interval: str | None,
    runbook_url: str | None,
) -> None:
    """Prometheus alerting rules: error rate, p95 latency, no traffic, drift, performance.

    Load the file with `rule_files:` in prometheus.yml; `promtool check rules FILE` accepts it.
    The drift and performance rules read the gauges of `loopline monitor run`.
    """
    from loopline.cli._output_file import checked_output, write_output
    from loopline.monitoring._timespan import parse_duration
    from loopline.monitoring.alerts import AlertRules, render_rules

    target = checked_output(output, "-o") if output is not None else None

    rules = AlertRules(
        model=model,
        error_ratio=error_rate,
        latency_p95_seconds=latency_p95,
        no_traffic_for=parse_duration(no_traffic_for, what="--no-traffic-for"),
        drift_share=drift_share,
        floors=_floors(floors) if floors else AlertRules.floors,
        min_labels=min_labels,
        hold=parse_duration(hold, what="--for") if hold else None,
        interval=parse_duration(interval, what="--interval") if interval else None,
        runbook_url=runbook_url,
    )
    text = render_rules(rules)
    if target is None:
        click.echo(text, nl=False)
        return
    write_output(target, text)
    click.echo(f"Wrote {sum(len(g['rules']) for g in rules.build()['groups'])} rules to {output}")


# -- dashboard --------------------------------------------------------------------------------


@click.command("dashboard")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the JSON here (default: print)."
)
@click.option("--title", default="Loopline model monitoring", show_default=True)
@click.option("--uid", default="loopline-models", show_default=True, help="Stable dashboard uid.")
def dashboard_command(output: str | None, title: str, uid: str) -> None:
    """A Grafana dashboard (JSON model) of traffic, latency, drift and performance.

    Import it in Grafana (Dashboards > New > Import) and pick a Prometheus data source that
    scrapes the model server and `loopline monitor run`.
    """
    import json
    import re

    from loopline.cli._output_file import checked_output, write_output
    from loopline.core.errors import InvalidInput
    from loopline.monitoring.dashboard import build_dashboard

    target = checked_output(output, "-o") if output is not None else None

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        raise InvalidInput(
            f"dashboard uid {uid!r} is not 1-40 letters, digits, '-' or '_'",
            hint="e.g. --uid loopline-models",
        )
    text = json.dumps(build_dashboard(title, uid), indent=2) + "\n"
    if target is None:
        click.echo(text, nl=False)
        return
    write_output(target, text)
    click.echo(f"Wrote the dashboard {title!r} to {output}")


# -- run --------------------------------------------------------------------------------------


def _evaluations(tracking_uri: str | None) -> Any:
    from loopline.core.errors import InvalidInput
    from loopline.monitoring._sql import SqlEvaluations
    from loopline.store import open_store
    from loopline.tracking._uri import resolve_tracking_uri

    target = resolve_tracking_uri(tracking_uri)
    if target.server_url:
        raise InvalidInput(
            f"evaluations are recorded in the metadata store itself, not behind the tracking "
            f"server {target.server_url}",
            hint="point --tracking-uri (or LOOPLINE_TRACKING_URI) at the server's database URL",
        )
    return SqlEvaluations(open_store(target.store_url))


@click.command("run")
@click.argument("models", nargs=-1, metavar="[MODEL...]")
@click.option("--every", metavar="DURATION", help="Evaluate on this schedule: 10m, 1h.")
@click.option("--once", is_flag=True, help="Evaluate once, print the results and exit.")
@click.option(
    "--window",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Each evaluation judges the requests of this last stretch of time.",
)
@click.option(
    "--delay",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="End the window this long ago, so that its labels had time to arrive.",
)
@_monitor_options
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9108,
    show_default=True,
    help="Serve the gauges on /metrics here (with --every; 0 picks a free port).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the /metrics endpoint.",
)
@click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Metadata store for the evaluation records (default: the project's).",
)
@log_dir_option
@json_option
def run_command(
    models: tuple[str, ...],
    every: str | None,
    once: bool,
    window: str,
    delay: str,
    min_labels: int,
    task: str | None,
    classes: str | None,
    metrics_port: int,
    metrics_host: str,
    tracking_uri: str | None,
    log_dir: str | None,
    as_json: bool,
) -> None:
    """Evaluate served models on a schedule, export gauges for Prometheus, record each result.

    Every MODEL (default: every model in the inference log) and each of its versions that
    answered requests in the window is judged on the labels that have arrived; the gauges
    (model_performance, model_labelled_rows, model_drift_share, ...) are served on
    --metrics-port, and each evaluation is a row in the metadata store.
    """
    import threading

    from loopline.core.errors import InvalidInput
    from loopline.monitoring._timespan import parse_duration
    from loopline.monitoring.exporter import MetricsEndpoint, MonitoringGauges
    from loopline.monitoring.schedule import MonitorRun, lineage_drift

    _require_monitoring_extra()
    if once == (every is not None):
        raise InvalidInput(
            "say how often to evaluate: --every DURATION or --once",
            hint="loopline monitor run --every 10m, or --once for a single evaluation",
        )
    interval = parse_duration(every, what="--every") if every else None
    if interval is not None and interval.total_seconds() < 1:
        raise InvalidInput(f"--every {every} is shorter than a second", hint="e.g. --every 10m")
    gauges = MonitoringGauges()
    runner = MonitorRun(
        _log_root(log_dir),
        models or None,
        window=parse_duration(window, what="--window"),
        delay=parse_duration(delay, what="--delay")
        if delay.strip() not in ("0", "0s")
        else _zero(),
        monitor=_monitor(min_labels, task, classes),
        gauges=gauges,
        records=_evaluations(tracking_uri),
        drift_for=lineage_drift(_log_root(log_dir), tracking_uri),
    )
    if interval is None:
        evaluations = runner.run()
        if as_json:
            echo_json([e.to_dict() for e in evaluations])
        else:
            show_evaluations(evaluations)
        return
    stop = threading.Event()
    with MetricsEndpoint(gauges, port=metrics_port, host=metrics_host) as endpoint:
        click.echo(
            f"Evaluating every {every}; gauges on http://{metrics_host}:{endpoint.port}/metrics "
            "(Ctrl-C stops)",
            err=True,
        )
        try:
            runner.every(interval, stop)
        except KeyboardInterrupt:
            stop.set()
            click.echo("stopped", err=True)


def _zero() -> Any:
    from datetime import timedelta

    return timedelta(0)


@click.command("evaluations")
@click.argument("model", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Metadata store of the evaluation records (default: the project's).",
)
@json_option
def evaluations_command(
    model: str | None, limit: int, tracking_uri: str | None, as_json: bool
) -> None:
    """The latest evaluations `loopline monitor run` recorded (of MODEL, or all), newest first."""
    import datetime as dt

    rows = _evaluations(tracking_uri).recent(model, limit)
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("No evaluations recorded yet: run `loopline monitor run --once`.")
        return

    def when(seconds: float | None) -> str:
        if seconds is None:
            return "-"
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")

    echo_table(
        ["id", "at (UTC)", "model", "version", "kind", "status", "labelled", "window"],
        [
            [
                r.id, when(r.at), r.model, r.version or "-", r.kind, r.status,
                "-" if r.labelled_rows is None else f"{r.labelled_rows}/{r.logged_rows}",
                f"{when(r.window_start)} .. {when(r.window_end)}",
            ]
            for r in rows
        ],
    )  # fmt: skip


COMMANDS: list[click.Command] = [
    performance_command,
    alerts_command,
    dashboard_command,
    run_command,
    evaluations_command,
]
