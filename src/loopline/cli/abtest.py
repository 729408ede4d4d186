"""``loopline abtest``: compare variants of an experiment on per-unit outcomes."""

from __future__ import annotations

import math
from typing import Any

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


def _deployment_outcomes(
    deployment: str, metric: str, window: str | None, log_dir: str | None,
    tracking_uri: str | None,
) -> tuple[Any, Any, dict[str, float] | None, str, list[str]]:  # fmt: skip
    import time
    from pathlib import Path

    from loopline.cli.deploy import deployments
    from loopline.cli.rollout import parse_duration
    from loopline.rollout.abtest import constant_weights, logged_outcomes, version_notes
    from loopline.serving.inference_log import default_log_root

    store = deployments(tracking_uri)
    found = store.get(deployment)
    since = time.time() - parse_duration(window) if window else None
    root = Path(log_dir) if log_dir else default_log_root()
    logged = logged_outcomes(root, deployment, metric, since=since)
    notes = version_notes(logged.versions)
    seen = {str(v) for v in logged.variants}
    # The configured split, over the variants that answered (a 0% variant may still have
    # answered pinned requests, so its weight cannot be tested) — and only if it held over
    # the whole window.
    constant, skipped = constant_weights(
        store.history(deployment), found.policy.weights, logged.first, logged.last
    )
    weights = {v: w for v, w in (constant or {}).items() if v in seen and w > 0}
    usable = weights if len(weights) == len(seen) and len(weights) > 1 else None
    if skipped:
        notes.append(skipped)
    elif usable is None:
        notes.append(
            "sample-ratio check skipped: variants without weight answered (pinned routes); "
            "give --weights to check the split"
        )
    return logged.variants, logged.metrics, usable, found.policy.primary, notes


@abtest_group.command("report")
@click.argument("deployment", required=False)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False),
    help="Per-unit outcomes, Parquet or CSV: one row per user/session/request.",
)
@click.option(
    "--metric",
    default="accuracy",
    show_default=True,
    help="For a DEPLOYMENT: accuracy, conversion, label or abs_error (from the feedback).",
)
@click.option("--window", help="For a DEPLOYMENT: only the last 1h, 30m, 2d, ...")
@click.option("--log-dir", type=click.Path(file_okay=False), help="The servers' inference log.")
@click.option("--tracking-uri", envvar="LOOPLINE_TRACKING_URI", help="Store of the deployment.")
@click.option("--variant-column", default="variant", show_default=True, help="Variant per row.")
@click.option(
    "--metric-column",
    "metric_columns",
    multiple=True,
    help="Outcome column (0/1 → rate, else mean); repeat for several metrics.",
)
@click.option("--control", help="The control variant (default: control/champion/a, else first).")
@click.option(
    "--weights", metavar="A=W,B=W", help="Configured split, for the sample-ratio-mismatch check."
)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def report_command(
    deployment: str | None,
    source: str | None,
    metric: str,
    window: str | None,
    log_dir: str | None,
    tracking_uri: str | None,
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

    parsed_weights = _parse_weights(weights)
    notes: list[str] = []
    if (deployment is None) == (source is None):
        raise InvalidInput(
            "give a DEPLOYMENT (its inference log and feedback) or --from FILE, not both",
            hint="e.g. `loopline abtest report churn` or `abtest report --from events.parquet "
            "--metric-column converted`",
        )
    if source is not None:
        if not metric_columns:
            raise InvalidInput("--from needs at least one --metric-column")
        variants, metrics = read_outcome_table(source, variant_column, metric_columns)
    else:
        assert deployment is not None
        variants, metrics, policy_weights, primary, notes = _deployment_outcomes(
            deployment, metric, window, log_dir, tracking_uri
        )
        if parsed_weights is not None:  # the user's split: checked whatever the history
            notes = [n for n in notes if not n.startswith("sample-ratio check skipped")]
        parsed_weights = parsed_weights or policy_weights
        control = control or primary
    report = ab_test_report(variants, metrics, control=control, weights=parsed_weights, alpha=alpha)
    data = report.to_dict()
    if as_json:
        echo_json({**data, "notes": notes})
        return
    click.echo(f"control: {report.control}   alpha: {alpha}")
    for note in notes:
        click.echo(f"note: {note}")
    if report.sample_ratio is not None:
        verdict = "MISMATCH — check assignment before trusting lifts" if (
            report.sample_ratio.mismatch) else "ok"  # fmt: skip
        click.echo(
            f"sample ratio: {report.assignments} vs expected "
            f"{[round(e) for e in report.sample_ratio.expected]}, "
            f"p = {report.sample_ratio.p_value:.3g} ({verdict})"
        )
    for result in data["metrics"]:
        click.echo()
        click.secho(f"{result['name']} ({result['kind']})", bold=True)
        rows = []
        for name, arm in result["variants"].items():
            comparison = result["comparisons"].get(name)
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
        if result["dropped_nulls"]:
            click.echo(f"({result['dropped_nulls']} rows without a value were left out)")
