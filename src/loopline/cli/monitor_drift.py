"""``loopline monitor drift|report|reports``: drift between tables or in a served model's log."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loopline.cli._output import echo_json
from loopline.core.errors import InvalidInput

if TYPE_CHECKING:
    from loopline.monitoring.drift import ColumnDrift, DriftDetector, DriftReport
    from loopline.monitoring.served import LogWindow
    from loopline.monitoring.window_performance import WindowPerformance
    from loopline.store import Store
    from loopline.store.monitor_reports import MonitorReportRecord

__all__ = ["drift_command", "report_command", "reports_command"]


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidInput(f"no column names in {text!r}", hint="write them as a,b,c")
    return names


def _thresholds(entries: tuple[str, ...]) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise InvalidInput(
                f"--threshold {entry!r} is not TEST=NUMBER",
                hint="e.g. --threshold ks=0.01 --threshold wasserstein_normed=0.2",
            )
        thresholds[name.strip()] = number
    return thresholds


def drift_options(function: click.decorators.FC) -> click.decorators.FC:
    """The options every drift command shares: which columns, which tests, which thresholds."""
    options = [
        click.option("--columns", help="Compare only these columns (comma-separated)."),
        click.option(
            "--categorical", help="Treat these columns as categories whatever their type."
        ),
        click.option(
            "--numeric-test",
            help="Test for every numeric column: ks, psi, wasserstein_normed (or a categorical "
            "test on the distinct values). Default: ks up to 1000 reference rows, else "
            "wasserstein_normed.",
        ),
        click.option(
            "--categorical-test",
            help="Test for every categorical column: chi2, chi2_gof, jensenshannon, z. "
            "Default: chi2_gof (z for two levels) up to 1000 reference rows, else jensenshannon.",
        ),
        click.option(
            "--threshold",
            "thresholds",
            multiple=True,
            metavar="TEST=VALUE",
            help="Override a test's threshold (p-value tests: 0.05; distances: 0.1). Repeatable.",
        ),
        click.option(
            "--drift-share",
            type=float,
            default=0.5,
            show_default=True,
            help="Dataset drift when at least this share of columns drifted.",
        ),
        click.option(
            "--missing-threshold",
            type=float,
            metavar="X",
            help="Also count a column as drifted when its share of missing values (null, "
            "NaN, inf) changes by more than X (0..1). Default: off.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
        click.option(
            "--html",
            "html_path",
            type=click.Path(dir_okay=False),
            help="Also write a self-contained HTML report to this file.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_detector(
    columns: str | None,
    categorical: str | None,
    numeric_test: str | None,
    categorical_test: str | None,
    thresholds: tuple[str, ...],
    drift_share: float,
    missing_threshold: float | None = None,
) -> DriftDetector:
    from loopline.monitoring.drift import DriftDetector

    return DriftDetector(
        numeric_test=numeric_test,
        categorical_test=categorical_test,
        thresholds=_thresholds(thresholds),
        drift_share=drift_share,
        categorical=_names(categorical) or (),
        columns=_names(columns),
        missing_threshold=missing_threshold,
    )


@click.command("drift")
@click.option(
    "--reference",
    required=True,
    type=click.Path(),
    help="What normal looks like: a Parquet or CSV file (e.g. the training data).",
)
@click.option(
    "--current", required=True, type=click.Path(), help="The data to judge, Parquet or CSV."
)
@drift_options
def drift_command(
    reference: str,
    current: str,
    columns: str | None,
    categorical: str | None,
    numeric_test: str | None,
    categorical_test: str | None,
    thresholds: tuple[str, ...],
    drift_share: float,
    missing_threshold: float | None,
    as_json: bool,
    html_path: str | None,
) -> None:
    """Compare the current table with the reference, column by column.

    Each column gets one test, chosen as Evidently does unless you choose: p-value tests for
    references of up to 1000 rows, distances beyond. The dataset drifts when the share of
    drifted columns reaches --drift-share. Exit status 0 whether or not drift is found.
    """
    from loopline.cli._output_file import checked_output
    from loopline.monitoring.tables import read_table

    html_file = checked_output(html_path, "--html") if html_path is not None else None
    detector = make_detector(
        columns, categorical, numeric_test, categorical_test, thresholds, drift_share,
        missing_threshold,
    )  # fmt: skip
    selected = detector.columns
    report = detector.run(
        read_table(reference, columns=selected, role="reference"),
        read_table(current, columns=selected, role="current"),
    )
    if html_file is not None:
        _write_html(report, html_file, f"{current} vs {reference}")
    if as_json:
        echo_json(report.to_dict())
        return
    show_report(report)
    if html_path is not None:
        click.echo(f"HTML report: {html_path}")


def _write_html(report: DriftReport, path: Path, title: str) -> None:
    from loopline.cli._output_file import write_output
    from loopline.monitoring.html import render_html

    write_output(path, render_html(report, title=title))


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.3g}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"


def _note(column: ColumnDrift) -> str:
    notes = [column.note] if column.note else []
    if column.unseen_count:
        notes.append(f"{column.unseen_share:.1%} of values in unseen levels")
    return "; ".join(notes)


def show_report(report: DriftReport) -> None:
    """A rich table for people: the verdict first, then one row per column."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    verdict = "[bold red]DRIFT[/]" if report.dataset_drift else "[bold green]no drift[/]"
    console.print(
        f"{verdict}: {report.drifted_columns} of {len(report.columns)} columns drifted "
        f"({report.drift_share:.0%}, threshold {report.drift_share_threshold:.0%}); "
        f"{report.n_reference} reference rows, {report.n_current} current rows"
    )
    table = Table(show_edge=False, pad_edge=False)
    for header, justify in (
        ("column", "left"),
        ("type", "left"),
        ("test", "left"),
        ("statistic", "right"),
        ("p-value", "right"),
        ("threshold", "right"),
        ("drift", "left"),
        ("missing", "right"),
        ("note", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for column in report.columns:
        table.add_row(
            column.name,
            column.kind,
            column.test,
            _number(column.statistic),
            _number(column.p_value),
            _number(column.threshold),
            "[red]yes[/]" if column.drifted else "[green]no[/]",
            f"{column.missing_reference:.1%}→{column.missing_current:.1%}",
            _note(column),
        )
    console.print(table)


@click.command("report")
@click.argument("model")
@click.option("--version", help="Model version to judge (default: the newest one in the window).")
@click.option("--window", help="How far back from --until (or now): 30m, 1h, 1d, 1w.")
@click.option("--since", help="Window start: ISO time (UTC unless zoned) or a duration ago (2h).")
@click.option("--until", help="Window end (default: now).")
@click.option(
    "--reference",
    "reference",
    default="training",
    show_default=True,
    help="'training' (the data the version was trained on, through lineage) or a file.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    help="The server's inference log folder (default: .loopline/serving of this project).",
)
@click.option(
    "--min-rows",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Fewer logged rows than this in the window: say so instead of deciding.",
)
@drift_options
def report_command(
    model: str,
    version: str | None,
    window: str | None,
    since: str | None,
    until: str | None,
    reference: str,
    log_dir: str | None,
    min_rows: int,
    columns: str | None,
    categorical: str | None,
    numeric_test: str | None,
    categorical_test: str | None,
    thresholds: tuple[str, ...],
    drift_share: float,
    missing_threshold: float | None,
    as_json: bool,
    html_path: str | None,
) -> None:
    """Drift of a served model's traffic: the inference log's window against a reference.

    The reference defaults to the data the judged version was trained on, found through
    lineage (registry version, its run, the run's recorded data inputs). Each decided report is
    saved (see `loopline monitor reports`) with its HTML beside the store.
    """
    from loopline.cli._output_file import checked_output, copy_output
    from loopline.monitoring.served import (
        lineage_reference,
        parse_time,
        parse_window,
        read_log_window,
        served_drift,
    )
    from loopline.monitoring.tables import read_table
    from loopline.serving.inference_log import default_log_root

    html_file = checked_output(html_path, "--html") if html_path is not None else None
    if window and since:
        raise InvalidInput(
            "give --window or --since, not both", hint="--window 1h means the last hour"
        )
    end = parse_time(until) if until else None
    start = parse_time(since) if since else None
    if window:
        from datetime import UTC, datetime

        start = (end or datetime.now(UTC)) - parse_window(window)
    detector = make_detector(
        columns, categorical, numeric_test, categorical_test, thresholds, drift_share,
        missing_threshold,
    )  # fmt: skip
    log_root = Path(log_dir) if log_dir else default_log_root()
    logged = read_log_window(log_root, model, version=version, since=start, until=end)
    if logged.table.num_rows < min_rows:
        ref_table, ref_name = None, reference  # too little traffic: no need to find the data
    elif reference == "training":
        if not logged.version:
            raise InvalidInput(
                f"no logged request of {model} in the window names a model version",
                hint="give --version, or a reference table with --reference FILE",
            )
        ref_table, ref_name, skipped = lineage_reference(logged, detector.columns)
        if skipped:
            click.echo(skipped, err=True)
    else:
        ref_table, ref_name = read_table(reference, role="reference"), str(reference)
    result = served_drift(logged, ref_table, ref_name, detector, min_rows=min_rows)
    data = result.to_dict()
    performance = None
    if result.report is not None and logged.version:
        from loopline.monitoring.window_performance import window_performance

        performance = window_performance(log_root, model, logged.version, logged.start, logged.end)
    data["performance"] = performance.to_dict() if performance else None
    if result.report is not None:
        store, reports_dir = _report_store()
        context = {
            "model": model,
            "version": logged.version,
            "window": _window_text(logged.start, logged.end),
            "reference": ref_name,
        }
        record, saved_html = _save(
            store, reports_dir, result.report, ref_name, logged, context, performance
        )
        data["report_id"] = record.report_id
        data["html"] = str(saved_html)
        if html_file is not None:
            copy_output(saved_html, html_file)
    if as_json:
        echo_json(data)
        return
    which = f"{model} version {logged.version}" if logged.version else f"{model} (no requests)"
    click.echo(
        f"{which}: {result.n_current} logged rows in "
        f"{_window_text(logged.start, logged.end)}; reference: {ref_name}"
    )
    if result.report is None:
        click.secho(f"not enough data: {result.message()}", fg="yellow")
        if html_path is not None:
            click.echo(f"no report saved and no HTML written to {html_path}")
        return
    show_report(result.report)
    if performance is not None:
        _show_performance(performance)
    click.echo(f"report {data['report_id']} saved: {data['html']}")


def _show_performance(performance: WindowPerformance) -> None:
    current, change = performance.current, performance.change()
    shown = ", ".join(
        f"{name} {value:.4f}" + (f" ({change[name]:+.4f})" if change.get(name) is not None else "")
        for name, value in current.metrics.items()
        if value is not None
    )
    click.echo(
        f"performance: {current.labelled_rows} labelled rows; {shown or current.message}"
        + ("" if performance.reference else " (no labels in the window before)")
    )


def _window_text(start: object, end: object) -> str:
    from datetime import datetime

    def text(moment: object) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(moment, datetime) else "-"

    return f"[{text(start) if start else 'start of log'}, {text(end)})"


def _save(
    store: Store,
    reports_dir: Path,
    report: DriftReport,
    reference: str,
    logged: LogWindow,
    context: dict[str, str],
    performance: WindowPerformance | None,
) -> tuple[MonitorReportRecord, Path]:
    from loopline.monitoring.reports import save_drift_report

    return save_drift_report(
        store,
        reports_dir,
        report,
        reference=reference,
        model=logged.model,
        version=logged.version,
        window=(logged.start, logged.end),
        context=context,
        performance=performance,
    )


def _report_store() -> tuple[Store, Path]:
    """The metadata store and the reports folder beside it (.loopline/reports by default)."""
    from loopline.tracking.client import TrackingClient

    client = TrackingClient.for_uri(None)
    if client.session is not None:
        raise InvalidInput(
            "monitoring reports are saved in a database store, not through a tracking server",
            hint="set LOOPLINE_TRACKING_URI to the store's database URL (or unset it)",
        )
    store: Store = client.sql.store  # type: ignore[attr-defined]
    root = client.target.artifact_root
    if not root or "://" in root:
        from loopline.tracking._uri import resolve_tracking_uri

        root = resolve_tracking_uri("").artifact_root
    return store, Path(root).parent / "reports"


@click.command("reports")
@click.option("--model", help="Only the reports of this model.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def reports_command(model: str | None, as_json: bool) -> None:
    """Saved monitoring reports, newest first, with the model version each one judged."""
    from dataclasses import asdict

    from loopline.monitoring.reports import list_reports

    store, reports_dir = _report_store()
    records = list_reports(store, model=model)

    def html(record: MonitorReportRecord) -> Path:
        return reports_dir / record.path / "report.html"

    if as_json:
        echo_json(
            [asdict(r) | {"html": str(html(r)), "missing": not html(r).is_file()} for r in records]
        )
        return
    if not records:
        click.echo("no saved reports yet (`loopline monitor report MODEL` makes one)")
        return
    from datetime import UTC, datetime

    from loopline.cli._output import echo_table

    echo_table(
        ["created", "model", "version", "drift", "share", "rows", "report"],
        [
            [
                datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M"),
                r.model_name or "-",
                r.model_version or "-",
                "DRIFT" if r.dataset_drift else "no",
                f"{r.drifted_columns}/{r.columns}",
                r.n_current,
                str(html(r)) if html(r).is_file() else f"{html(r)} (missing: deleted?)",
            ]
            for r in records
        ],
    )
