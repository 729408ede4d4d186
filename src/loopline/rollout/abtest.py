"""The A/B report: per-variant outcomes, lifts against the control, p-values, sample-ratio check.

Input is a table of per-unit outcomes (one row per user, session or request: the variant it saw and
one or more metric columns). A metric whose values are all 0/1 (or booleans) is a rate and gets the
two-proportion z-test; any other numeric metric is a mean and gets Welch's t-test. Every comparison
also carries the always-valid mSPRT p-value, and Holm's adjustment runs across every
(metric, variant) comparison in the report, so reading many metrics does not inflate false wins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput, MissingExtra, NotFound
from loopline.rollout.statistics import (
    ArmSummary,
    Comparison,
    SampleRatioCheck,
    compare_means,
    compare_rates,
    holm_adjust,
    sample_ratio_mismatch,
    summarise_mean,
    summarise_rate,
)

__all__ = ["ABReport", "MetricResult", "ab_test_report", "read_outcome_table"]

_CONTROL_NAMES = ("control", "champion", "baseline", "a", "A")


@dataclass(frozen=True)
class MetricResult:
    name: str
    kind: str  # "rate" or "mean"
    variants: dict[str, ArmSummary]
    comparisons: dict[str, Comparison]
    holm_p_values: dict[str, float]
    dropped_nulls: int


@dataclass(frozen=True)
class ABReport:
    control: str
    alpha: float
    assignments: dict[str, int]
    sample_ratio: SampleRatioCheck | None
    metrics: list[MetricResult]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers (an unbounded interval) become null."""
        data: dict[str, Any] = _finite(
            {
                "control": self.control,
                "alpha": self.alpha,
                "assignments": self.assignments,
                "sample_ratio": None if self.sample_ratio is None else {
                    "expected": list(self.sample_ratio.expected),
                    "chi2": self.sample_ratio.statistic,
                    "p_value": self.sample_ratio.p_value,
                    "mismatch": self.sample_ratio.mismatch,
                },
                "metrics": [_metric_dict(m, self.alpha) for m in self.metrics],
            }
        )  # fmt: skip
        return data


def _metric_dict(metric: MetricResult, alpha: float) -> dict[str, Any]:
    return {
        "name": metric.name,
        "kind": metric.kind,
        "dropped_nulls": metric.dropped_nulls,
        "variants": {
            name: {"n": arm.n, "mean": arm.mean, "ci": [arm.ci_low, arm.ci_high]}
            for name, arm in metric.variants.items()
        },
        "comparisons": {
            name: {
                "test": c.test,
                "absolute_lift": c.absolute_lift,
                "absolute_ci": list(c.absolute_ci),
                "relative_lift": c.relative_lift,
                "relative_ci": None if c.relative_ci is None else list(c.relative_ci),
                "statistic": c.statistic,
                "p_value": c.p_value,
                "holm_p_value": metric.holm_p_values[name],
                "sequential_p_value": c.sequential_p_value,
                "sequential_ci": list(c.sequential_ci),
                "significant": metric.holm_p_values[name] < alpha,
            }
            for name, c in metric.comparisons.items()
        },
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_outcome_table(
    path: str | Path, variant_column: str, metric_columns: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Variant labels and float metric arrays (NaN for nulls) from a Parquet or CSV file."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow ships with the serve extra
        raise MissingExtra("pyarrow", "stats") from None
    source = Path(path)
    if not source.is_file():
        raise NotFound(f"outcome table {source} does not exist or is not a file")
    try:
        if source.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(source, columns=None)
        else:
            table = pa_csv.read_csv(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(
            f"cannot read outcome table {source}: {exc}",
            hint="give a Parquet file (.parquet) or a CSV file with a header row",
        ) from None
    missing = [c for c in (variant_column, *metric_columns) if c not in table.column_names]
    if missing:
        raise InvalidInput(
            f"outcome table {source} has no column {', '.join(map(repr, missing))}",
            hint=f"its columns are: {', '.join(table.column_names)}",
        )
    if table.num_rows == 0:
        raise InvalidInput(
            f"outcome table {source} has no rows", hint="give one row per unit (user, session)"
        )
    variants_col = pc.cast(table.column(variant_column), pa.string())
    blank = variants_col.null_count + int(
        pc.sum(pc.equal(pc.utf8_trim_whitespace(variants_col), "")).as_py() or 0
    )
    if blank:
        raise InvalidInput(
            f"{blank} rows of {source} have no {variant_column!r} (empty or missing)",
            hint="every unit must name the variant it saw; drop the unassigned rows",
        )
    variants = np.asarray(variants_col.to_pylist(), dtype=object)
    metrics: dict[str, np.ndarray] = {}
    for name in metric_columns:
        column = table.column(name)
        if pa.types.is_boolean(column.type):
            column = pc.cast(column, pa.int8())
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise InvalidInput(
                f"metric column {name!r} of {source} holds {column.type}, not numbers",
                hint="a metric is a number per unit (0/1 for a conversion)",
            )
        metrics[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return variants, metrics


def _pick_control(names: Sequence[str], control: str | None) -> str:
    if control is not None:
        if control not in names:
            raise InvalidInput(
                f"control variant {control!r} has no units", hint=f"variants seen: {list(names)}"
            )
        return control
    for candidate in _CONTROL_NAMES:
        if candidate in names:
            return candidate
    return names[0]


def ab_test_report(
    variants: np.ndarray,
    metrics: Mapping[str, np.ndarray],
    *,
    control: str | None = None,
    weights: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> ABReport:
    """Compare every variant with the control on every metric."""
    if len(variants) == 0:
        raise InvalidInput("the outcome table has no rows: nothing to compare")
    names, counts = np.unique(variants, return_counts=True)
    assignments = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    order = sorted(assignments)
    if len(order) < 2:
        raise InvalidInput(
            f"only one variant ({order[0]!r}) has units: an A/B test needs two or more"
        )
    chosen = _pick_control(order, control)
    sample_ratio = None
    if weights is not None:
        unknown = sorted(set(weights) ^ set(assignments))
        if unknown:
            raise InvalidInput(
                f"--weights and the table disagree on the variants: {unknown}",
                hint=f"the table has {order}; give one weight per variant",
            )
        sample_ratio = sample_ratio_mismatch(
            [assignments[n] for n in order], [weights[n] for n in order]
        )
    results = [_metric(name, values, variants, order, chosen, alpha) for name, values in
               metrics.items()]  # fmt: skip
    flat = [(m, v) for m in results for v in m.comparisons]
    adjusted = holm_adjust([m.comparisons[v].p_value for m, v in flat])
    for (metric, variant), p in zip(flat, adjusted, strict=True):
        metric.holm_p_values[variant] = p
    return ABReport(chosen, alpha, assignments, sample_ratio, results)


def _metric(
    name: str,
    values: np.ndarray,
    variants: np.ndarray,
    order: Sequence[str],
    control: str,
    alpha: float,
) -> MetricResult:
    if np.isinf(values).any():
        raise InvalidInput(f"metric {name!r} holds infinite values: drop or cap them first")
    valid = ~np.isnan(values)
    finite = values[valid]
    rate = finite.size > 0 and bool(np.isin(finite, (0.0, 1.0)).all())
    arms: dict[str, ArmSummary] = {}
    for variant in order:
        sample = values[(variants == variant) & valid]
        if sample.size == 0:
            raise InvalidInput(f"variant {variant!r} has no non-null value of metric {name!r}")
        if rate:
            arms[variant] = summarise_rate(int(sample.sum()), int(sample.size), alpha=alpha)
        else:
            std = float(sample.std(ddof=1)) if sample.size > 1 else 0.0
            arms[variant] = summarise_mean(float(sample.mean()), std, int(sample.size), alpha=alpha)
    comparisons: dict[str, Comparison] = {}
    base = arms[control]
    for variant in order:
        if variant == control:
            continue
        arm = arms[variant]
        if rate:
            comparisons[variant] = compare_rates(
                round(base.mean * base.n), base.n, round(arm.mean * arm.n), arm.n, alpha=alpha
            )
        else:
            comparisons[variant] = compare_means(base, arm, alpha=alpha)
    return MetricResult(
        name, "rate" if rate else "mean", arms, comparisons, {}, int((~valid).sum())
    )


DEPLOYMENT_METRICS = ("accuracy", "conversion", "label", "abs_error")


# What an A/B report or a canary window reads of each logged request (never the features).
LOG_COLUMNS = (
    "request_id", "row", "timestamp", "model_version", "variant", "shadow", "prediction",
)  # fmt: skip


@dataclass(frozen=True)
class LoggedOutcomes:
    """What a deployment's A/B report is computed from, and what qualifies it."""

    variants: np.ndarray
    metrics: dict[str, np.ndarray]
    first: float  # time of the first and last request in the window
    last: float
    versions: dict[str, list[str]]  # variant -> the model versions that answered for it


def deployment_outcomes(
    log_root: Path, deployment: str, metric: str, *, since: float | None = None,
    until: float | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Per-request outcomes of a served deployment (see :func:`logged_outcomes`)."""
    found = logged_outcomes(log_root, deployment, metric, since=since, until=until)
    return found.variants, found.metrics


def logged_outcomes(
    log_root: Path, deployment: str, metric: str, *, since: float | None = None,
    until: float | None = None,
) -> LoggedOutcomes:  # fmt: skip
    """Per-request outcomes of a served deployment from its inference log and feedback.

    ``accuracy``: 1 when the prediction equals the fed-back label; ``conversion``: the label
    itself as 0/1 (a business outcome sent as feedback); ``label``: the numeric label's mean;
    ``abs_error``: |prediction - label|. Shadow copies are left out; a request without
    feedback counts for the assignment (the sample-ratio check) but not for the metric.
    """
    import pyarrow.compute as pc

    from loopline.rollout._logs import inference_folder, read_window_segments

    if metric not in DEPLOYMENT_METRICS:
        raise InvalidInput(
            f"metric {metric!r} is not known", hint=f"use one of {', '.join(DEPLOYMENT_METRICS)}"
        )
    # Segments written before the window began hold neither its requests nor their labels.
    table = read_window_segments(
        inference_folder(log_root, deployment), since=since, columns=LOG_COLUMNS
    )
    if table.num_rows == 0 or "variant" not in table.column_names:
        raise NotFound(
            f"the inference log under {log_root} holds no requests of deployment {deployment!r}",
            hint="serve it with `loopline serve --deployment NAME --log-sample-rate 1` "
            "(and --log-dir), or give --log-dir",
        )
    stamps = pc.cast(table.column("timestamp"), "int64").to_numpy() / 1e6
    keep = np.ones(table.num_rows, dtype=bool)
    if since is not None:
        keep &= stamps >= since
    if until is not None:
        keep &= stamps < until
    # Requests served outside the deployment (a plain `serve` of the same name) have no variant.
    keep &= table.column("variant").is_valid().to_numpy(zero_copy_only=False)
    if "shadow" in table.column_names:
        shadow = pc.fill_null(table.column("shadow"), False)
        keep &= ~shadow.to_numpy(zero_copy_only=False).astype(bool)
    table = table.filter(keep)
    if table.num_rows == 0:
        raise InvalidInput(f"no request of {deployment!r} was logged in the window")
    variants = table.column("variant").to_numpy(zero_copy_only=False).astype(object)
    values = _outcomes(table, read_window_segments(log_root / "feedback", since=since), metric)
    if np.isnan(values).all():
        raise InvalidInput(
            f"none of the {table.num_rows} logged requests of {deployment!r} has feedback yet",
            hint="send labels with POST /feedback or `loopline feedback REQUEST_ID LABEL`",
        )
    kept = stamps[keep]
    versions: dict[str, set[str]] = {}
    if "model_version" in table.column_names:
        pairs = zip(variants, table.column("model_version").to_pylist(), strict=True)
        for variant, version in pairs:
            versions.setdefault(str(variant), set()).add(str(version))
    return LoggedOutcomes(
        variants, {metric: values}, float(kept.min()), float(kept.max()),
        {v: sorted(found) for v, found in versions.items()},
    )  # fmt: skip


def version_notes(versions: Mapping[str, Sequence[str]]) -> list[str]:
    """A warning per variant that several model versions answered for within the window."""
    return [
        f"variant {variant!r} was served by several model versions in the window "
        f"({', '.join(found)}): its arm mixes them; narrow --window to one version"
        for variant, found in sorted(versions.items())
        if len(found) > 1
    ]


_TRAFFIC_EVENTS = ("created", "traffic", "policy")


def constant_weights(
    events: Sequence[Any], weights: Mapping[str, int], first: float, last: float
) -> tuple[dict[str, float] | None, str | None]:
    """The policy's weights if no traffic change happened between ``first`` and ``last``
    (a deployment's history events), else ``None`` and why the sample-ratio check is skipped:
    counts pooled over several splits never match any one of them."""
    for event in events:
        if event.kind not in _TRAFFIC_EVENTS or not first < event.at <= last:
            continue
        detail = event.detail
        if event.kind == "traffic" and detail.get("from") == detail.get("to"):
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(event.at))
        return None, (
            f"sample-ratio check skipped: the traffic split changed within the window (at "
            f"{when}); give --weights for the split you expect, or a --window after the change"
        )
    return {v: float(w) for v, w in weights.items()}, None


def _outcomes(table: Any, feedback: Any, metric: str) -> np.ndarray:
    """One outcome per logged row (NaN without feedback), joined in Arrow, computed in NumPy."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    if feedback.num_rows == 0:
        return np.full(n, np.nan)
    logged = pa.table({
        "request_id": table.column("request_id"), "row": table.column("row"),
        "position": pa.array(np.arange(n)),
    })  # fmt: skip
    # The last label sent for a row wins.
    labels = feedback.select(["request_id", "row", "label", "label_text"])
    labels = labels.append_column("order", pa.array(np.arange(labels.num_rows)))
    last = labels.group_by(["request_id", "row"]).aggregate([("order", "max")])
    labels = last.join(labels, ["request_id", "row", "order_max"],
                       right_keys=["request_id", "row", "order"])  # fmt: skip
    joined = logged.join(labels, ["request_id", "row"], join_type="left outer")
    order = np.argsort(joined.column("position").to_numpy())
    number = joined.column("label").to_numpy(zero_copy_only=False).astype(float)[order]
    text_column = joined.column("label_text").take(pa.array(order))
    has = text_column.is_valid().to_numpy(zero_copy_only=False)
    prediction = table.column("prediction")
    values = np.full(n, np.nan)
    if metric == "accuracy":
        same = pc.fill_null(pc.equal(text_column, pc.cast(prediction, pa.string())), False)
        same_numpy = same.to_numpy(zero_copy_only=False).astype(bool)
        if pa.types.is_integer(prediction.type) or pa.types.is_floating(prediction.type):
            same_numpy |= number == prediction.to_numpy(zero_copy_only=False).astype(float)
        values[has] = same_numpy[has].astype(float)
        return values
    if np.any(has & np.isnan(number)):
        bad = text_column.to_numpy(zero_copy_only=False)[has & np.isnan(number)][0]
        raise InvalidInput(
            f"feedback {bad!r} does not fit metric {metric!r}",
            hint="conversion needs 0/1 labels; label and abs_error need numbers",
        )
    if metric == "conversion":
        if np.any(has & ~np.isin(number, (0.0, 1.0))):
            raise InvalidInput(
                "metric 'conversion' needs 0/1 labels", hint="use --metric label for numbers"
            )
        values[has] = number[has]
    elif metric == "label":
        values[has] = number[has]
    else:
        if not (pa.types.is_integer(prediction.type) or pa.types.is_floating(prediction.type)):
            raise InvalidInput("metric 'abs_error' needs numeric predictions (a regression)")
        predicted = prediction.to_numpy(zero_copy_only=False).astype(float)
        values[has] = np.abs(predicted[has] - number[has])
    return values
