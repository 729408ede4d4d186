"""Outcomes of a served deployment, from an inference log and feedback written by the real
writers (no server needed: the same files the server writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loopline.core.errors import InvalidInput, NotFound
from loopline.rollout.abtest import ab_test_report, deployment_outcomes
from loopline.serving.inference_log import FeedbackEntry, InferenceLog, write_feedback


def _log(root: Path) -> None:
    log = InferenceLog(root, 1.0)
    for i in range(6):
        variant = "champion" if i % 2 == 0 else "candidate"
        log.offer(
            f"r{i}", "churn", "1", ("x",), np.array([[float(i)]]),
            {"predict": np.array([i % 3])}, variant=variant,
        )  # fmt: skip
    log.offer(
        "r0", "churn", "2", ("x",), np.array([[0.0]]), {"predict": np.array([9])},
        variant="candidate", shadow=True,
    )  # fmt: skip
    # Served before the deployment existed (plain `serve`): no variant, not part of the test.
    log.offer("old", "churn", "1", ("x",), np.array([[1.0]]), {"predict": np.array([1])})
    log.flush()


def test_accuracy_joins_the_last_label_and_ignores_shadows(tmp_path: Path) -> None:
    _log(tmp_path)
    write_feedback(tmp_path, [FeedbackEntry("r0", (5,)), FeedbackEntry("r1", (1,))])
    write_feedback(tmp_path, [FeedbackEntry("r0", (0,)), FeedbackEntry("r2", ("2",))])
    variants, metrics = deployment_outcomes(tmp_path, "churn", "accuracy")
    assert len(variants) == 6  # the shadow copy is not a request of its own
    values = metrics["accuracy"]
    # r0's last label 0 == 0, r1's 1 == 1, r2's "2" == 2; r3..r5 have no label yet.
    assert sorted(values[~np.isnan(values)].tolist()) == [1.0, 1.0, 1.0]
    assert int(np.isnan(values).sum()) == 3


def test_conversion_and_bad_labels(tmp_path: Path) -> None:
    _log(tmp_path)
    write_feedback(tmp_path, [FeedbackEntry(f"r{i}", (i % 2,)) for i in range(6)])
    variants, metrics = deployment_outcomes(tmp_path, "churn", "conversion")
    report = ab_test_report(variants, metrics, control="champion")
    assert report.metrics[0].variants["candidate"].mean == 1.0
    write_feedback(tmp_path, [FeedbackEntry("r0", ("yes",))])
    with pytest.raises(InvalidInput, match="does not fit"):
        deployment_outcomes(tmp_path, "churn", "conversion")
    with pytest.raises(InvalidInput, match="is not known"):
        deployment_outcomes(tmp_path, "churn", "revenue")
    with pytest.raises(NotFound):
        deployment_outcomes(tmp_path / "empty", "churn", "accuracy")


def test_no_feedback_yet_is_said(tmp_path: Path) -> None:
    _log(tmp_path)
    with pytest.raises(InvalidInput, match="has feedback yet"):
        deployment_outcomes(tmp_path, "churn", "accuracy")


def test_a_window_reads_only_segments_written_since_it_began(tmp_path: Path) -> None:
    import time

    from loopline.rollout.sources import log_window

    # Segments of an earlier day (written before the window began) are never opened: here
    # they are not even Parquet, so reading one would fail.
    for folder in (tmp_path / "feedback", tmp_path / "inference" / "churn"):
        old = folder / "2020-01-01"
        old.mkdir(parents=True)
        for i in range(3):
            (old / f"12000000000{i}-1-{i}.parquet").write_bytes(b"not parquet")
    since = time.time() - 1
    _log(tmp_path)
    write_feedback(tmp_path, [FeedbackEntry("r0", (0,)), FeedbackEntry("r1", (1,))])
    variants, metrics = deployment_outcomes(tmp_path, "churn", "accuracy", since=since)
    assert len(variants) == 6
    assert int((~np.isnan(metrics["accuracy"])).sum()) == 2
    window = log_window(tmp_path, "churn", ("champion", "candidate"), since, time.time() + 1)
    assert len(window.predictions["champion"]) == 3
    assert len(window.labelled["champion"][0]) == 1


def test_the_sample_ratio_check_needs_one_split_over_the_window(tmp_path: Path) -> None:
    import time

    from loopline.rollout.abtest import constant_weights, logged_outcomes, version_notes
    from loopline.rollout.deployments import Deployments
    from loopline.store import open_store

    deployments = Deployments(open_store(f"sqlite:///{tmp_path / 'store.db'}"))
    deployments.create("churn", {"champion": "models:/churn/1", "candidate": "models:/churn/2"})
    deployments.set_traffic("churn", {"champion": 50, "candidate": 50})
    time.sleep(0.01)
    _log(tmp_path)
    write_feedback(tmp_path, [FeedbackEntry(f"r{i}", (i % 3,)) for i in range(6)])
    logged = logged_outcomes(tmp_path, "churn", "accuracy")
    weights = deployments.get("churn").policy.weights
    steady, why = constant_weights(deployments.history("churn"), weights, logged.first, logged.last)
    assert steady == {"champion": 50.0, "candidate": 50.0} and why is None
    # The split changed while these requests were served: no single split to test against.
    deployments.set_traffic("churn", {"champion": 90, "candidate": 10})
    time.sleep(0.01)
    log = InferenceLog(tmp_path, 1.0)
    log.offer("late", "churn", "3", ("x",), np.array([[1.0]]), {"predict": np.array([1])},
              variant="candidate")  # fmt: skip
    log.flush()
    write_feedback(tmp_path, [FeedbackEntry("late", (1,))])
    logged = logged_outcomes(tmp_path, "churn", "accuracy")
    weights = deployments.get("churn").policy.weights
    changed, why = constant_weights(
        deployments.history("churn"), weights, logged.first, logged.last
    )
    assert changed is None and "traffic split changed within the window" in (why or "")
    notes = version_notes(logged.versions)
    assert len(notes) == 1 and "'candidate'" in notes[0] and "1, 3" in notes[0]
