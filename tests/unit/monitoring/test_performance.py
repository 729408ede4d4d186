"""Realized performance from logged predictions of real scikit-learn models and delayed labels."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopline.core.errors import InvalidInput
from loopline.monitoring import performance as perf
from loopline.monitoring.performance import (
    PerformanceMonitor,
    compare_versions,
    evaluate_performance,
)
from loopline.serving import inference_log
from loopline.serving.inference_log import FeedbackEntry, InferenceLog, write_feedback


def _serve(
    root: Path,
    model: Any,
    x: np.ndarray,
    *,
    name: str = "churn",
    version: str = "1",
    rows_per_request: int = 4,
    prefix: str = "req",
) -> list[str]:
    """Answer ``x`` in requests of a few rows each, through the real inference log writer."""
    log = InferenceLog(root, 1.0)
    ids = []
    for start in range(0, len(x), rows_per_request):
        chunk = x[start : start + rows_per_request]
        outputs = {"predict": model.predict(chunk)}
        if hasattr(model, "predict_proba"):
            outputs["predict_proba"] = model.predict_proba(chunk)
        request_id = f"{prefix}-{start}"
        log.offer(request_id, name, version, ("a", "b", "c", "d"), chunk[:, :4], outputs)
        ids.append(request_id)
    log.flush()
    return ids


def _label(root: Path, ids: list[str], y: np.ndarray, rows_per_request: int = 4) -> None:
    entries = [
        FeedbackEntry(
            request_id, tuple(y[i * rows_per_request : (i + 1) * rows_per_request].tolist())
        )
        for i, request_id in enumerate(ids)
    ]
    write_feedback(root, entries)


@pytest.fixture(scope="module")
def binary() -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    x, y = make_classification(n_samples=400, n_features=6, random_state=0)
    model = LogisticRegression().fit(x[:200], y[:200])
    return model, x[200:], y[200:]


def test_binary_metrics_equal_sklearn_on_the_labelled_rows(tmp_path: Path, binary: Any) -> None:
    model, x, y = binary
    ids = _serve(tmp_path, model, x)
    _label(tmp_path, ids[:30], y)  # 30 of 50 requests labelled so far: 120 of 200 rows
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=10))
    assert result.ok and result.task == "classification"
    assert (result.logged_rows, result.labelled_rows) == (200, 120)
    assert result.labelled_share == pytest.approx(0.6)
    assert result.labelled_requests_share == pytest.approx(0.6)
    truth, pred, proba = y[:120], model.predict(x[:120]), model.predict_proba(x[:120])
    expected = {
        "accuracy": metrics.accuracy_score(truth, pred),
        "precision": metrics.precision_score(truth, pred),
        "recall": metrics.recall_score(truth, pred),
        "f1": metrics.f1_score(truth, pred),
        "roc_auc": metrics.roc_auc_score(truth, proba[:, 1]),
        "log_loss": metrics.log_loss(truth, proba),
    }
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, rel=1e-12), name


def test_unknown_request_ids_and_relabelled_rows_are_counted(tmp_path: Path, binary: Any) -> None:
    model, x, y = binary
    ids = _serve(tmp_path, model, x[:40])
    _label(tmp_path, ids, y[:40])
    write_feedback(tmp_path, [FeedbackEntry("never-issued", (1,)), FeedbackEntry(ids[0], (1,))])
    # a correction of the first row of the first request: the last label wins
    write_feedback(tmp_path, [FeedbackEntry(ids[0], (1 - int(y[0]),))])
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=1))
    assert result.unmatched_labels == 1 and result.unmatched_examples == ("never-issued",)
    assert result.superseded_labels == 2
    assert result.labelled_rows == 40
    truth = y[:40].copy()
    truth[0] = 1 - truth[0]
    assert result.metrics["accuracy"] == pytest.approx(
        metrics.accuracy_score(truth, model.predict(x[:40]))
    )


def test_labels_of_another_models_requests_are_not_unmatched(tmp_path: Path, binary: Any) -> None:
    model, x, y = binary
    ids = _serve(tmp_path, model, x[:8], name="churn")
    other = _serve(tmp_path, model, x[8:16], name="fraud", prefix="other")
    _label(tmp_path, ids + other, y[:16])
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=1))
    assert result.labelled_rows == 8 and result.unmatched_labels == 0


def test_multiclass_with_text_classes_uses_macro_averages(tmp_path: Path) -> None:
    iris = load_iris()
    names = iris.target_names[iris.target]
    order = np.random.default_rng(1).permutation(len(names))
    x, y = iris.data[order], names[order]
    model = LogisticRegression(max_iter=500).fit(x[:90], y[:90])
    ids = _serve(tmp_path, model, x[90:])
    _label(tmp_path, ids, y[90:])
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=5))
    truth, pred, proba = y[90:], model.predict(x[90:]), model.predict_proba(x[90:])
    assert result.metrics["f1"] == pytest.approx(metrics.f1_score(truth, pred, average="macro"))
    assert result.metrics["precision"] == pytest.approx(
        metrics.precision_score(truth, pred, average="macro", zero_division=0)
    )
    assert result.metrics["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(truth, proba, multi_class="ovr", average="macro")
    )
    assert result.metrics["log_loss"] == pytest.approx(metrics.log_loss(truth, proba))


def test_regression_metrics(tmp_path: Path) -> None:
    x, y = make_regression(n_samples=120, n_features=5, noise=10.0, random_state=0)
    y = y + 500.0  # keep true values away from 0 so that MAPE is defined
    model = LinearRegression().fit(x[:60], y[:60])
    ids = _serve(tmp_path, model, x[60:])
    _label(tmp_path, ids, y[60:])
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=5))
    pred = model.predict(x[60:])
    assert result.task == "regression"
    assert result.metrics["mae"] == pytest.approx(metrics.mean_absolute_error(y[60:], pred))
    assert result.metrics["rmse"] == pytest.approx(
        math.sqrt(metrics.mean_squared_error(y[60:], pred))
    )
    assert result.metrics["mape"] == pytest.approx(
        metrics.mean_absolute_percentage_error(y[60:], pred)
    )


def test_a_true_zero_makes_mape_undefined_not_infinite(tmp_path: Path) -> None:
    x, y = make_regression(n_samples=40, n_features=5, random_state=0)
    model = LinearRegression().fit(x, y)
    y = y.copy()
    y[0] = 0.0
    ids = _serve(tmp_path, model, x)
    _label(tmp_path, ids, y)
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=5))
    assert result.metrics["mape"] is None and "true value is 0" in result.notes["mape"]


@pytest.mark.parametrize(
    ("labelled", "status"),
    [(None, "no_traffic"), (0, "no_labels"), (2, "insufficient_labels")],
)
def test_windows_that_cannot_be_judged_say_why_and_carry_no_number(
    tmp_path: Path, binary: Any, labelled: int | None, status: str
) -> None:
    model, x, y = binary
    if labelled is not None:
        ids = _serve(tmp_path, model, x[:40])
        if labelled:
            _label(tmp_path, ids[:1], y[:4])
            labelled = 4
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=30))
    assert result.status == status and not result.ok
    assert result.labelled_rows == (labelled or 0)
    assert all(v is None for v in result.metrics.values())
    assert result.message
    json.dumps(result.to_dict(), allow_nan=False)  # no NaN anywhere


def test_text_labels_for_a_numeric_classifier_are_counted_as_invalid(
    tmp_path: Path, binary: Any
) -> None:
    model, x, y = binary
    ids = _serve(tmp_path, model, x[:40])
    _label(tmp_path, ids[1:], y[4:40])
    write_feedback(tmp_path, [FeedbackEntry(ids[0], ("yes", "no", "no", "yes"))])
    result = evaluate_performance(tmp_path, "churn", monitor=PerformanceMonitor(min_labels=1))
    assert result.invalid_labels == 4 and result.labelled_rows == 36
    assert "4 labels could not be compared" in result.message


def test_champion_and_challenger_over_the_same_window(tmp_path: Path, binary: Any) -> None:
    model, x, y = binary
    weak = DummyClassifier(strategy="constant", constant=0).fit(x, y)
    champion = _serve(tmp_path, model, x[:100], version="1", prefix="a")
    challenger = _serve(tmp_path, weak, x[100:], version="2", prefix="b")
    _label(tmp_path, champion + challenger, y)
    comparison = compare_versions(
        tmp_path, "churn", "1", "2", monitor=PerformanceMonitor(min_labels=10)
    )
    assert comparison.champion.labelled_rows == comparison.challenger.labelled_rows == 100
    assert comparison.better["accuracy"] == "1" and comparison.better["log_loss"] == "1"
    assert comparison.difference["accuracy"] == pytest.approx(
        metrics.accuracy_score(y[100:], weak.predict(x[100:]))
        - metrics.accuracy_score(y[:100], model.predict(x[:100]))
    )
    json.dumps(comparison.to_dict(), allow_nan=False)
    with pytest.raises(InvalidInput, match="both version 1"):
        compare_versions(tmp_path, "churn", "1", "1")


def test_performance_over_time_in_buckets(
    tmp_path: Path, binary: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, x, y = binary
    base = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
    for hour in range(3):
        clock = SimpleNamespace(time=lambda h=hour: base + h * 3600 + 60)
        monkeypatch.setattr(inference_log, "time", clock)
        part = slice(hour * 40, hour * 40 + 40)
        ids = _serve(tmp_path, model, x[part], prefix=f"h{hour}")
        if hour < 2:  # the last hour has no labels yet
            _label(tmp_path, ids, y[part])
    monitor = PerformanceMonitor(min_labels=10, bucket=timedelta(hours=1))
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    result = evaluate_performance(
        tmp_path, "churn", start=start, end=start + timedelta(hours=3), monitor=monitor
    )
    assert [(b.logged_rows, b.labelled_rows) for b in result.buckets] == [
        (40, 40),
        (40, 40),
        (40, 0),
    ]
    assert result.buckets[0].metrics["accuracy"] == pytest.approx(
        metrics.accuracy_score(y[:40], model.predict(x[:40]))
    )
    assert result.buckets[2].metrics["accuracy"] is None
    assert result.labelled_share == pytest.approx(80 / 120)
    narrow = evaluate_performance(
        tmp_path, "churn", start=start, end=start + timedelta(hours=1), monitor=monitor
    )
    assert narrow.logged_rows == 40 and len(narrow.buckets) == 1


def test_bad_monitor_parameters_are_refused() -> None:
    with pytest.raises(InvalidInput, match="min_labels"):
        PerformanceMonitor(min_labels=0)
    with pytest.raises(InvalidInput, match="bucket"):
        PerformanceMonitor(bucket=timedelta(0))
    assert {"log_loss", "rmse"} <= perf.LOWER_IS_BETTER


def test_a_model_or_version_missing_from_the_log_is_named(tmp_path: Path, binary: Any) -> None:
    model, x, _ = binary
    assert "no inference log under" in evaluate_performance(tmp_path, "churn").message
    _serve(tmp_path, model, x[:8], version="3")
    typo = evaluate_performance(tmp_path, "chrun")
    assert typo.status == "no_traffic" and "'chrun' has no logged requests at all" in typo.message
    assert "the log holds churn" in typo.message
    version = evaluate_performance(tmp_path, "churn", version="4")
    assert "version 4 of 'churn' has no logged requests" in version.message
    assert "logged versions: 3" in version.message


def test_rows_without_a_usable_prediction_are_counted_not_scored(tmp_path: Path) -> None:
    x, y = make_regression(n_samples=40, n_features=5, random_state=1)
    log = InferenceLog(tmp_path, 1.0)
    predictions = y.copy() + 1.0
    predictions[:3] = np.nan  # the model answered NaN for three rows
    for i in range(40):
        log.offer(f"r{i}", "churn", "1", ("a", "b", "c", "d", "e"), x[i : i + 1],
                  {"predict": predictions[i : i + 1]})  # fmt: skip
    log.flush()
    write_feedback(tmp_path, [FeedbackEntry(f"r{i}", (float(y[i]),)) for i in range(40)])
    result = evaluate_performance(
        tmp_path, "churn", monitor=PerformanceMonitor(task="regression", min_labels=5)
    )
    assert result.invalid_labels == 3 and result.labelled_rows == 37
    assert result.metrics["mae"] == pytest.approx(1.0)


def test_labels_outside_the_given_classes_leave_a_note_not_a_traceback(
    tmp_path: Path, binary: Any
) -> None:
    model, x, y = binary
    ids = _serve(tmp_path, model, x[:40])
    _label(tmp_path, ids, np.where(y[:40] == 1, 2, 0))  # class 2 is not one of the model's
    result = evaluate_performance(
        tmp_path, "churn", monitor=PerformanceMonitor(classes=[0, 1], min_labels=5)
    )
    assert result.ok and result.metrics["accuracy"] is not None
    assert result.metrics["log_loss"] is None and "scikit-learn" in result.notes["log_loss"]
    with pytest.raises(InvalidInput, match="not a number"):
        evaluate_performance(
            tmp_path, "churn", monitor=PerformanceMonitor(classes=["no", "yes"], min_labels=5)
        )


def test_text_classes_judged_as_a_regression_are_a_defined_no_labels(tmp_path: Path) -> None:
    iris = load_iris()
    names = iris.target_names[iris.target]
    model = LogisticRegression(max_iter=500).fit(iris.data, names)
    ids = _serve(tmp_path, model, iris.data[:20])
    _label(tmp_path, ids, names[:20])
    result = evaluate_performance(
        tmp_path, "churn", monitor=PerformanceMonitor(task="regression", min_labels=1)
    )
    assert result.status == "no_labels" and result.invalid_labels == 20
    assert "none of the 20 labels of the 20 logged rows could be compared" in result.message
