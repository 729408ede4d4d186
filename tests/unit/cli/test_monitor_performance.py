"""``loopline monitor performance`` over a real model's logged predictions and feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn import metrics
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from loopline.serving.inference_log import FeedbackEntry, InferenceLog, write_feedback
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    root = tmp_path_factory.mktemp("serving")
    x, y = make_classification(n_samples=240, n_features=4, random_state=3)
    good = LogisticRegression().fit(x[:120], y[:120])
    flipped = LogisticRegression().fit(x[:120], 1 - y[:120])
    log = InferenceLog(root, 1.0)
    for index in range(120):
        model, version = (good, "1") if index % 2 == 0 else (flipped, "2")
        row = x[120 + index : 121 + index]
        outputs = {"predict": model.predict(row), "predict_proba": model.predict_proba(row)}
        log.offer(f"r{index}", "churn", version, ("a", "b", "c", "d"), row, outputs)
    log.flush()
    write_feedback(root, [FeedbackEntry(f"r{i}", (int(y[120 + i]),)) for i in range(120)])
    write_feedback(root, [FeedbackEntry("ghost", (1,))])
    even = slice(120, 240, 2)
    odd = slice(121, 240, 2)
    return (
        root,
        float(metrics.accuracy_score(y[even], good.predict(x[even]))),
        float(metrics.accuracy_score(y[odd], flipped.predict(x[odd]))),
    )


def test_json_result_for_one_version(served: tuple[Path, float, float]) -> None:
    root, accuracy, _ = served
    result = run_cli(
        "monitor", "performance", "churn", "--version", "1", "--log-dir", str(root),
        "--window", "1h", "--min-labels", "10", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["status"] == "ok" and found["labelled_rows"] == 60
    assert found["metrics"]["accuracy"] == pytest.approx(accuracy)
    assert found["unmatched_labels"] == 1 and found["unmatched_examples"] == ["ghost"]


def test_champion_and_challenger_table(served: tuple[Path, float, float]) -> None:
    root, good, bad = served
    result = run_cli(
        "monitor", "performance", "churn", "--version", "1", "--challenger", "2",
        "--log-dir", str(root), "--min-labels", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    accuracy = next(line for line in result.stdout.splitlines() if line.startswith("accuracy"))
    assert f"{good:.4f}" in accuracy and f"{bad:.4f}" in accuracy and accuracy.endswith("1")


def test_an_old_window_has_no_traffic_and_says_so(served: tuple[Path, float, float]) -> None:
    root = served[0]
    result = run_cli(
        "monitor", "performance", "churn", "--log-dir", str(root),
        "--since", "2020-01-01", "--until", "2020-01-02",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "no_traffic: no logged requests in the window" in result.stdout
    assert "nan" not in result.stdout.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "1h", "--since", "2026-01-01"], "both choose the window"),
        (["--window", "an hour"], "is not a positive duration"),
        (["--since", "yesterday"], "is not an ISO 8601"),
        (["--challenger", "2"], "--challenger needs --version"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "at or after it ends"),
        (["--classes", "no,yes"], "class 'no' is not a number"),
        (["--since", "2000-01-01", "--bucket", "1ms"], "too many to report"),
    ],
)
def test_bad_options_get_one_clear_line(
    served: tuple[Path, float, float], args: list[str], message: str
) -> None:
    result = run_cli("monitor", "performance", "churn", "--log-dir", str(served[0]), *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_fresh_project_without_a_log_has_no_traffic(tmp_path: Path) -> None:
    result = run_cli("monitor", "performance", "churn", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "no_traffic"
