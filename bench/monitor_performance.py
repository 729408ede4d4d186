"""Realized performance of a served model from its inference log and delayed labels: Loopline's
``evaluate_performance`` against the script a user would otherwise write (pandas reads the
Parquet log and feedback, merges on request id and row, scikit-learn scores the result).

    .venv/bin/python bench/monitor_performance.py [--rows 1000000] [--json]

Both compute accuracy, precision, recall, F1, ROC AUC and log loss on the same labelled rows;
the script checks that they agree and prints the times and the ratio (pandas time / Loopline
time: above 1 means Loopline is faster).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from loopline.monitoring.performance import PerformanceMonitor, evaluate_performance
from loopline.serving.inference_log import FeedbackEntry, InferenceLog, write_feedback

ROWS_PER_REQUEST = 100


def make_log(root: Path, rows: int) -> None:
    """A classifier's log: ``rows`` rows in requests of 100, a third of the requests labelled."""
    rng = np.random.default_rng(0)
    log = InferenceLog(root, 1.0, max_pending_rows=rows + 1, flush_rows=rows + 1)
    labels = []
    for index in range(rows // ROWS_PER_REQUEST):
        x = rng.normal(size=(ROWS_PER_REQUEST, 5))
        p = 1 / (1 + np.exp(-x[:, 0]))
        outputs = {"predict": (p > 0.5).astype(np.int64), "predict_proba": np.c_[1 - p, p]}
        log.offer(f"r{index}", "churn", "1", tuple("abcde"), x, outputs)
        if index % 3 == 0:
            truth = (rng.random(ROWS_PER_REQUEST) < p).astype(int).tolist()
            labels.append(FeedbackEntry(f"r{index}", tuple(truth)))
    log.flush()
    write_feedback(root, labels)


def with_pandas(root: Path) -> dict[str, float]:
    import pandas as pd
    from sklearn import metrics as m

    log = pd.read_parquet(root / "inference", columns=["request_id", "row", "prediction",
                                                       "probabilities"])  # fmt: skip
    feedback = pd.read_parquet(root / "feedback").sort_values("timestamp")
    feedback = feedback.drop_duplicates(["request_id", "row"], keep="last")
    joined = log.merge(feedback[["request_id", "row", "label"]], on=["request_id", "row"])
    truth, predicted = joined["label"].to_numpy(), joined["prediction"].to_numpy()
    proba = np.stack(joined["probabilities"].to_numpy())
    return {
        "accuracy": m.accuracy_score(truth, predicted),
        "precision": m.precision_score(truth, predicted),
        "recall": m.recall_score(truth, predicted),
        "f1": m.f1_score(truth, predicted),
        "roc_auc": m.roc_auc_score(truth, proba[:, 1]),
        "log_loss": m.log_loss(truth, proba),
    }


def with_loopline(root: Path) -> dict[str, Any]:
    result = evaluate_performance(root, "churn", monitor=PerformanceMonitor(min_labels=1))
    return dict(result.metrics)


def best_of(runs: int, work: Any, root: Path) -> tuple[float, dict[str, Any]]:
    times, found = [], {}
    for _ in range(runs):
        began = time.perf_counter()
        found = work(root)
        times.append(time.perf_counter() - began)
    return min(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_log(root, args.rows)
        with_loopline(root), with_pandas(root)  # warm: imports, page cache
        ours, metrics = best_of(args.runs, with_loopline, root)
        theirs, expected = best_of(args.runs, with_pandas, root)
    for name, value in expected.items():
        assert abs(metrics[name] - value) <= 1e-9 * max(1.0, abs(value)), (name, metrics, expected)
    report = {"rows": args.rows, "pandas_s": round(theirs, 3), "loopline_s": round(ours, 3),
              "ratio": round(theirs / ours, 2)}  # fmt: skip
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.rows:,} logged rows, a third labelled: pandas + sklearn {theirs:.2f} s, "
              f"Loopline {ours:.2f} s, ratio {theirs / ours:.2f}x (same metrics)")  # fmt: skip


if __name__ == "__main__":
    main()
