"""``loopline abtest``: compare variants of an experiment on per-unit outcomes."""

from __future__ import annotations

import math

import click

from loopline.cli._output import echo_json, echo_table
from loopline.core.errors import InvalidInput

__all__ = ["abtest_group"]


@click.group("abtest")
def abtest_group() -> None:
    """A/B statistics: lifts, p-values (fixed-horizon and always-valid) and sample-ratio checks."""


def _parse_weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not name.strip() or not math.isfinite(weight) or weight <= 0:
            raise InvalidInput(
                f"--weights entry {part!r} is not NAME=POSITIVE_NUMBER",
                hint="write the configured split, e.g. --weights control=50,treatment=50",
            )
        weights[name.strip()] = weight
    return weights


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.2%}"


@abtest_group.command("report")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False),
    help="Per-unit outcomes, Parquet or CSV: one row per user/session/request.",
)
@click.option("--variant-column", default="variant", show_default=True, help="Variant per row.")
@click.option(
    "--metric-column",
    "metric_columns",
    multiple=True,
    required=True,
    help="Outcome column (0/1 → rate, else mean); repeat for several metrics.",
)
@click.option("--control", help="The control variant (default: control/champion/a, else first).")
@click.option(
    "--weights", metavar="A=W,B=W", help="Configured split, for the sample-ratio-mismatch check."
)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def report_command(
    source: str,
    variant_column: str,
    metric_columns: tuple[str, ...],
    control: str | None,
    weights: str | None,
    alpha: float,
    as_json: bool,
) -> None:
    """Compare every variant with the control on each metric.

    Rates get the two-proportion z-test, means Welch's t-test; each comparison also has an
    always-valid (mSPRT) p-value that stays correct when you look every day, and Holm's
    adjustment across all comparisons. With --weights, a chi-square sample-ratio-mismatch
    check flags broken assignment (p < 0.001).
    """
    from loopline.rollout.abtest import ab_test_report, read_outcome_table

    variants, metrics = read_outcome_table(source, variant_column, metric_columns)
    report = ab_test_report(
        variants, metrics, control=control, weights=_parse_weights(weights), alpha=alpha
    )
    if as_json:
        echo_json(report.to_dict())
        return
    data = report.to_dict()
    click.echo(f"control: {report.control}   alpha: {alpha}")
    if report.sample_ratio is not None:
        verdict = "MISMATCH — check assignment before trusting lifts" if (
            report.sample_ratio.mismatch) else "ok"  # fmt: skip
        click.echo(
            f"sample ratio: {report.assignments} vs expected "
            f"{[round(e) for e in report.sample_ratio.expected]}, "
            f"p = {report.sample_ratio.p_value:.3g} ({verdict})"
        )
    for metric in data["metrics"]:
        click.echo()
        click.secho(f"{metric['name']} ({metric['kind']})", bold=True)
        rows = []
        for name, arm in metric["variants"].items():
            comparison = metric["comparisons"].get(name)
            low, high = arm["ci"]
            row = [name, arm["n"], _number(arm["mean"]), f"[{_number(low)}, {_number(high)}]"]
            if comparison is None:
                row += ["(control)", "", "", "", ""]
            else:
                row += [
                    _percent(comparison["relative_lift"]),
                    _number(comparison["absolute_lift"]),
                    _number(comparison["p_value"]),
                    _number(comparison["sequential_p_value"]),
                    "yes" if comparison["significant"] else "no",
                ]
            rows.append(row)
        echo_table(
            ["variant", "n", "mean", "CI", "lift", "abs lift", "p", "always-valid p",
             "significant"],
            rows,
        )  # fmt: skip
        if metric["dropped_nulls"]:
            click.echo(f"({metric['dropped_nulls']} rows without a value were left out)")
