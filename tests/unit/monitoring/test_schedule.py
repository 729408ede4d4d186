"""Scheduled evaluations: every model version in the window judged, exported and recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from loopline.monitoring import schedule
from loopline.monitoring._sql import SqlEvaluations
from loopline.monitoring.exporter import MonitoringGauges
from loopline.monitoring.performance import PerformanceMonitor
from loopline.monitoring.schedule import MonitorRun
from loopline.serving.inference_log import FeedbackEntry, InferenceLog, write_feedback
from loopline.store import open_store
from tests.conftest import LOOPLINE, run_cli


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serving")
    x, y = make_classification(n_samples=200, n_features=4, random_state=5)
    model = LogisticRegression().fit(x[:100], y[:100])
    log = InferenceLog(root, 1.0)
    for index in range(100):
        row = x[100 + index : 101 + index]
        outputs = {"predict": model.predict(row), "predict_proba": model.predict_proba(row)}
        version = "1" if index < 60 else "2"
        log.offer(f"q{index}", "churn", version, ("a", "b", "c", "d"), row, outputs)
    log.flush()
    write_feedback(root, [FeedbackEntry(f"q{i}", (int(y[100 + i]),)) for i in range(0, 100, 2)])
    return root


def _exposition(gauges: MonitoringGauges) -> str:
    return gauges.exposition().decode()


def test_one_cycle_judges_each_version_exports_and_records(log_root: Path, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    gauges, records = MonitoringGauges(), SqlEvaluations(store)
    runner = MonitorRun(
        log_root, ["churn", "silent"], monitor=PerformanceMonitor(min_labels=10),
        gauges=gauges, records=records,
    )  # fmt: skip
    evaluations = runner.run()
    found = {(e.model, e.version): e.performance for e in evaluations}
    assert set(found) == {("churn", "1"), ("churn", "2"), ("silent", "")}
    assert (found["churn", "1"].labelled_rows, found["churn", "1"].logged_rows) == (30, 60)
    assert found["churn", "2"].labelled_rows == 20 and found["churn", "2"].ok
    assert found["silent", ""].status == "no_traffic"
    text = _exposition(gauges)
    assert 'model_labelled_rows{model_name="churn",model_version="1"} 30.0' in text
    assert 'model_performance{metric="accuracy",model_name="churn",model_version="2"}' in text
    assert "model_drift_share" not in text.replace("# HELP model_drift_share", "").replace(
        "# TYPE model_drift_share", ""
    )  # the drift hook returns nothing yet
    rows = records.recent()
    assert len(rows) == 3 and {r.status for r in rows} == {"ok", "no_traffic"}
    assert rows[0].detail["model"] in {"churn", "silent"}
    assert all(r.window_end is not None and r.kind == "performance" for r in rows)
    store.close()


def test_the_drift_hook_returns_nothing_until_drift_is_wired_in() -> None:
    assert schedule._drift_for("churn", "1", (None, None)) is None


def test_a_drift_result_from_the_hook_is_exported_and_recorded(
    log_root: Path, tmp_path: Path
) -> None:
    drift = {
        "dataset_drift": True, "drift_share": 1.0, "drifted_columns": 1,
        "columns": {"a": {"type": "numeric", "test": "ks", "statistic": 0.5, "p_value": 1e-4,
                          "threshold": 0.05, "drifted": True}},
    }  # fmt: skip
    calls: list[tuple[str, str]] = []

    def drift_for(model: str, version: str, window: Any) -> dict[str, Any]:
        calls.append((model, version))
        return drift

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    gauges = MonitoringGauges()
    MonitorRun(log_root, gauges=gauges, records=SqlEvaluations(store), drift_for=drift_for).run()
    assert sorted(calls) == [("churn", "1"), ("churn", "2")]
    assert 'model_drift_share{model_name="churn",model_version="2"} 1.0' in _exposition(gauges)
    kinds = [(r.kind, r.status) for r in SqlEvaluations(store).recent("churn")]
    assert kinds.count(("drift", "drift")) == 2
    store.close()


def test_a_window_in_the_past_finds_nothing(log_root: Path) -> None:
    past = datetime.now(UTC) - timedelta(days=30)
    assert MonitorRun(log_root).run(now=past) == []


def test_cli_once_prints_json_and_records(log_root: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = run_cli(
        "monitor", "run", "--once", "--json", "--log-dir", str(log_root), "--tracking-uri", url,
        "--min-labels", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert [(e["model"], e["version"]) for e in found] == [("churn", "1"), ("churn", "2")]
    assert found[0]["performance"]["status"] == "ok" and found[0]["drift"] is None
    store = open_store(url)
    assert len(SqlEvaluations(store).recent()) == 2
    store.close()
    listed = run_cli("monitor", "evaluations", "churn", "--tracking-uri", url, "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [(e["version"], e["kind"], e["status"]) for e in json.loads(listed.stdout)] == [
        ("2", "performance", "ok"),
        ("1", "performance", "ok"),
    ]
    table = run_cli("monitor", "evaluations", "--tracking-uri", url)
    assert "performance" in table.stdout and "30/60" in table.stdout
    empty = run_cli("monitor", "evaluations", "--tracking-uri", f"sqlite:///{tmp_path / 'e.db'}")
    assert "No evaluations recorded yet" in empty.stdout
    both = run_cli("monitor", "run", "--once", "--every", "1m", "--log-dir", str(log_root))
    assert both.exit_code == 2 and "--every DURATION or --once" in both.stderr
    fast = run_cli("monitor", "run", "--every", "10ms", "--log-dir", str(log_root))
    assert fast.exit_code == 2 and "shorter than a second" in fast.stderr


def test_cli_every_serves_gauges_until_interrupted(log_root: Path, tmp_path: Path) -> None:
    from tests.integration._serving import free_port, wait_until

    port = free_port()
    process = subprocess.Popen(
        [LOOPLINE, "monitor", "run", "churn", "--every", "1s", "--min-labels", "10",
         "--log-dir", str(log_root), "--tracking-uri", f"sqlite:///{tmp_path / 's.db'}",
         "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def scraped() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                text = answer.read().decode()
            return text if "model_labelled_rows{" in text else None

        text = wait_until(scraped, 30, "the gauges", interval=0.3)
        assert 'model_performance{metric="accuracy",model_name="churn",model_version="1"}' in text
        time.sleep(1.5)  # at least a second cycle
    finally:
        os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    assert len(SqlEvaluations(store).recent()) >= 4  # two versions, two cycles or more
    store.close()


def test_models_with_different_prediction_types_share_one_log(tmp_path: Path) -> None:
    """A classifier (int predictions) and a regressor (float predictions) logging into one
    folder: each is judged on its own, by `monitor run` and by `monitor performance`."""
    import numpy as np

    from loopline.monitoring.performance import evaluate_performance

    log = InferenceLog(tmp_path, 1.0)
    rows = np.arange(8, dtype=float).reshape(4, 2)
    for index in range(4):
        row = rows[index : index + 1]
        log.offer(f"c{index}", "classes", "1", ("a", "b"), row, {"predict": np.array([index % 2])})
        log.offer(f"r{index}", "amount", "3", ("a", "b"), row, {"predict": np.array([index + 0.5])})
    log.flush()
    labels = [FeedbackEntry(f"c{i}", (i % 2,)) for i in range(4)]
    labels += [FeedbackEntry(f"r{i}", (float(i),)) for i in range(4)]
    write_feedback(tmp_path, labels)
    monitor = PerformanceMonitor(min_labels=2)
    found = {
        (e.model, e.version): e.performance for e in MonitorRun(tmp_path, monitor=monitor).run()
    }
    assert set(found) == {("classes", "1"), ("amount", "3")}
    assert found["classes", "1"].metrics["accuracy"] == 1.0
    assert found["amount", "3"].metrics["mae"] == pytest.approx(0.5)
    alone = evaluate_performance(tmp_path, "amount", monitor=monitor)
    assert alone.labelled_rows == 4 and alone.unmatched_labels == 0
