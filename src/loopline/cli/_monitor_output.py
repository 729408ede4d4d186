"""How ``loopline monitor`` shows performance results, comparisons and evaluations to people."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from loopline.cli._output import echo_table

if TYPE_CHECKING:
    from loopline.monitoring.performance import PerformanceResult, VersionComparison

__all__ = ["show_comparison", "show_evaluations", "show_result"]


def _value(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _span(result: PerformanceResult) -> str:
    start = result.start.isoformat(timespec="seconds") if result.start else "the first request"
    end = result.end.isoformat(timespec="seconds") if result.end else "now"
    return f"{start} .. {end}"


def show_result(result: PerformanceResult) -> None:
    which = f"{result.model} version {result.version}" if result.version else result.model
    click.secho(f"{which}: {_span(result)}", bold=True)
    colour = "green" if result.ok else "yellow"
    click.secho(f"{result.status}: {result.message}", fg=colour)
    click.echo(
        f"labelled rows {result.labelled_rows} of {result.logged_rows} "
        f"({_share(result.labelled_share)}); requests labelled "
        f"{_share(result.labelled_requests_share)}"
    )
    if result.metrics:
        rows = [[name, _value(v), result.notes.get(name, "")] for name, v in result.metrics.items()]
        echo_table(["metric", "value", "note"], rows)
    _show_label_problems(result)
    if result.buckets:
        names = list(result.metrics)
        echo_table(
            ["bucket start", "logged", "labelled", *names],
            [
                [b.start.isoformat(timespec="minutes"), b.logged_rows, b.labelled_rows]
                + [_value(b.metrics.get(n)) for n in names]
                for b in result.buckets
            ],
        )


def _show_label_problems(result: PerformanceResult) -> None:
    if result.unmatched_labels:
        examples = ", ".join(result.unmatched_examples)
        click.secho(
            f"{result.unmatched_labels} label(s) match no logged request (e.g. {examples}): "
            "unsampled requests or wrong ids",
            fg="yellow",
        )
    if result.invalid_labels:
        click.secho(
            f"{result.invalid_labels} label(s) could not be compared with the predictions",
            fg="yellow",
        )


def show_comparison(comparison: VersionComparison) -> None:
    ours, theirs = comparison.champion, comparison.challenger
    click.secho(
        f"{ours.model}: version {ours.version} vs {theirs.version}, {_span(ours)}", bold=True
    )
    for side in (ours, theirs):
        colour = "green" if side.ok else "yellow"
        click.secho(f"version {side.version}: {side.status}: {side.message}", fg=colour)
    rows = [
        [
            name,
            _value(value),
            _value(theirs.metrics.get(name)),
            _value(comparison.difference.get(name)),
            comparison.better.get(name) or "-",
        ]
        for name, value in ours.metrics.items()
    ]
    echo_table(["metric", f"v{ours.version}", f"v{theirs.version}", "difference", "better"], rows)


def show_evaluations(evaluations: list[Any]) -> None:
    if not evaluations:
        click.echo("No model answered requests in the window: nothing to evaluate.")
        return
    rows = []
    for evaluation in evaluations:
        result = evaluation.performance
        shown = ", ".join(f"{k}={_value(v)}" for k, v in result.metrics.items() if v is not None)
        drift = evaluation.drift
        rows.append([
            evaluation.model, evaluation.version or "-", result.status,
            f"{result.labelled_rows}/{result.logged_rows}", shown or "-",
            "-" if drift is None else _share(drift.get("drift_share")),
        ])  # fmt: skip
    echo_table(["model", "version", "status", "labelled", "metrics", "drift share"], rows)
