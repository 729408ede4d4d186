"""Monitoring gauges: set from drift and performance results, served on /metrics, lint-clean."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from loopline.core.errors import InvalidInput
from loopline.monitoring.exporter import MetricsEndpoint, MonitoringGauges
from loopline.monitoring.performance import PerformanceResult, Status


def _column(test: str, statistic: float | None, p_value: float | None, drifted: bool) -> Any:
    return {
        "type": "numeric", "test": test, "statistic": statistic, "p_value": p_value,
        "threshold": 0.05, "drifted": drifted,
    }  # fmt: skip


DRIFT = {
    "dataset_drift": True,
    "drift_share": 2 / 3,
    "drifted_columns": 2,
    "columns": {
        "age": _column("ks", 0.31, 1e-9, True),
        "income": _column("wasserstein_normed", 0.2, None, True),
        "city": {**_column("chi2", None, None, False), "type": "categorical"},
    },
}


def _performance(status: Status = "ok", **metrics: float | None) -> PerformanceResult:
    return PerformanceResult(
        model="churn", version="3", start=None, end=None, task="classification",
        status=status, message="", logged_rows=1000, labelled_rows=400, labelled_share=0.4,
        labelled_requests_share=0.4, metrics=dict(metrics),
    )  # fmt: skip


def _samples(gauges: MonitoringGauges) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(gauges.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(gauges: MonitoringGauges, name: str, **labels: str) -> float | None:
    return _samples(gauges).get((name, tuple(sorted(labels.items()))))


def test_drift_result_becomes_gauges_without_nan() -> None:
    gauges = MonitoringGauges()
    gauges.set_drift("churn", "3", DRIFT)
    model = {"model_name": "churn", "model_version": "3"}
    assert _value(gauges, "model_drift_share", **model) == pytest.approx(2 / 3)
    assert _value(gauges, "model_dataset_drift", **model) == 1
    age = {**model, "feature": "age", "test": "ks"}
    assert _value(gauges, "model_feature_drift", **age) == 0.31
    assert _value(gauges, "model_feature_drift_p_value", **age) == 1e-9
    assert _value(gauges, "model_feature_drifted", **age) == 1
    city = {**model, "feature": "city", "test": "chi2"}
    assert _value(gauges, "model_feature_drift", **city) is None  # no statistic: no series
    assert _value(gauges, "model_feature_drifted", **city) == 0
    assert "NaN" not in gauges.exposition().decode()


def test_a_new_result_replaces_the_series_of_the_previous_one() -> None:
    gauges = MonitoringGauges()
    gauges.set_drift("churn", "3", DRIFT)
    gauges.set_drift("churn", "4", DRIFT)
    fewer = {**DRIFT, "columns": {"age": DRIFT["columns"]["age"]}}  # type: ignore[index]
    gauges.set_drift("churn", "3", fewer)
    income = {"model_name": "churn", "model_version": "3", "feature": "income"}
    assert _value(gauges, "model_feature_drifted", **income, test="wasserstein_normed") is None
    assert _value(gauges, "model_feature_drifted", **{**income, "model_version": "4"},
                  test="wasserstein_normed") == 1  # fmt: skip


def test_performance_is_exported_only_for_a_judged_window() -> None:
    gauges = MonitoringGauges()
    model = {"model_name": "churn", "model_version": "3"}
    gauges.set_performance(_performance(accuracy=0.91, roc_auc=None))
    assert _value(gauges, "model_performance", **model, metric="accuracy") == 0.91
    assert _value(gauges, "model_performance", **model, metric="roc_auc") is None
    assert _value(gauges, "model_labelled_rows", **model) == 400
    gauges.set_performance(_performance("insufficient_labels", accuracy=None))
    assert _value(gauges, "model_performance", **model, metric="accuracy") is None
    assert _value(gauges, "model_labelled_share", **model) == 0.4


@pytest.mark.parametrize(
    "bad",
    [
        {"drift_share": 0.5},
        {**DRIFT, "columns": [1, 2]},
        {**DRIFT, "columns": {"age": {"test": "ks"}}},
    ],
)
def test_a_drift_result_of_the_wrong_shape_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="drift result"):
        MonitoringGauges().set_drift("churn", "3", bad)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_metrics_endpoint_serves_lint_clean_exposition() -> None:
    gauges = MonitoringGauges()
    gauges.set_drift("churn", "3", DRIFT)
    gauges.set_performance(_performance(accuracy=0.91, f1=0.8))
    with MetricsEndpoint(gauges, port=0) as endpoint:
        assert endpoint.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}/metrics") as response:
            body = response.read()
    assert b"model_drift_share" in body
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_taken_port_is_a_clear_error() -> None:
    with (
        MetricsEndpoint(MonitoringGauges(), port=0) as first,
        pytest.raises(InvalidInput, match="cannot serve monitoring metrics"),
    ):
        MetricsEndpoint(MonitoringGauges(), port=first.port).start()


@pytest.mark.parametrize(
    ("column", "message"),
    [({"statistic": "high"}, "not a number or null"), ({"p_value": True}, "not a number")],
)
def test_drift_values_must_be_numbers(column: dict[str, Any], message: str) -> None:
    bad = {**DRIFT, "columns": {"age": {**DRIFT["columns"]["age"], **column}}}  # type: ignore[index]
    with pytest.raises(InvalidInput, match=message):
        MonitoringGauges().set_drift("churn", "3", bad)
    with pytest.raises(InvalidInput, match="drift_share"):
        MonitoringGauges().set_drift("churn", "3", {**DRIFT, "drift_share": "most"})
