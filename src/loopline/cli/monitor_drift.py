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

__all__ = ["drift_command"]


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
) -> DriftDetector:
    from loopline.monitoring.drift import DriftDetector

    return DriftDetector(
        numeric_test=numeric_test,
        categorical_test=categorical_test,
        thresholds=_thresholds(thresholds),
        drift_share=drift_share,
        categorical=_names(categorical) or (),
        columns=_names(columns),
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
    as_json: bool,
    html_path: str | None,
) -> None:
    """Compare the current table with the reference, column by column.

    Each column gets one test, chosen as Evidently does unless you choose: p-value tests for
    references of up to 1000 rows, distances beyond. The dataset drifts when the share of
    drifted columns reaches --drift-share. Exit status 0 whether or not drift is found.
    """
    from loopline.monitoring.tables import read_table

    detector = make_detector(
        columns, categorical, numeric_test, categorical_test, thresholds, drift_share
    )
    selected = detector.columns
    report = detector.run(
        read_table(reference, columns=selected, role="reference"),
        read_table(current, columns=selected, role="current"),
    )
    if html_path is not None:
        _write_html(report, html_path, f"{current} vs {reference}")
    if as_json:
        echo_json(report.to_dict())
        return
    show_report(report)
    if html_path is not None:
        click.echo(f"HTML report: {html_path}")


def _write_html(report: DriftReport, path: str, title: str) -> None:
    from loopline.core.atomic import atomic_write_text
    from loopline.monitoring.html import render_html

    atomic_write_text(Path(path), render_html(report, title=title))


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
