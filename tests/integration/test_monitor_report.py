"""``loopline monitor report``: a served model's logged traffic against its training data,
found through lineage, saved and listed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopline
from loopline.serving.inference_log import InferenceLog
from tests.conftest import run_cli

FEATURES = ["tenure", "charges", "calls", "plan"]


def _frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(24 + 20 * shift, 8, n),
            "charges": rng.normal(70, 15, n),
            "calls": rng.poisson(1 + 3 * shift, n).astype(float),
            "plan": rng.integers(0, 3, n).astype(float),
        }
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LOOPLINE_TRACKING_URI", raising=False)
    monkeypatch.delenv("LOOPLINE_ARTIFACT_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", cwd=tmp_path).exit_code == 0
    train = _frame(3000, 0.0, 1)
    train["churned"] = (train["calls"] > 2).astype(int)
    train.to_parquet(tmp_path / "train.parquet")
    added = run_cli("add", "train.parquet", cwd=tmp_path)
    assert added.exit_code == 0, added.stderr
    loopline.set_tracking_uri(None)
    loopline.set_experiment("churn")
    with loopline.start_run():
        loopline.log_input("train.parquet")  # lineage names the data the run declares it read
        model = LogisticRegression().fit(train[FEATURES], train["churned"])
        loopline.sklearn.log_model(model, "model", registered_model_name="churn")
    # The training file changes afterwards: the reference must stay what the run saw.
    _frame(10, 5.0, 9).to_parquet(tmp_path / "train.parquet")
    log = InferenceLog(tmp_path / ".loopline" / "serving", 1.0)
    for index, shift in enumerate([0.0, 1.0]):
        batch = _frame(600, shift, 10 + index)
        values = batch[FEATURES].to_numpy()
        outputs = {"predict": model.predict(batch[FEATURES])}
        log.offer(f"req-{index}", "churn", "1", tuple(FEATURES), values, outputs)
    log.flush()
    return tmp_path


def test_report_names_drifted_features_and_is_saved(project: Path) -> None:
    result = run_cli("monitor", "report", "churn", "--window", "1h", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "churn" and data["version"] == "1" and data["rows"] == 1200
    assert data["reference"].startswith("training data train.parquet (run ")
    columns = data["drift"]["columns"]
    # Prediction drift: the version's own predictions on its training data vs the logged ones.
    assert set(columns) == {*FEATURES, "prediction"}
    assert columns["prediction"]["test"] == "jensenshannon" and columns["prediction"]["drifted"]
    assert columns["tenure"]["drifted"] and columns["calls"]["drifted"]
    assert not columns["charges"]["drifted"]
    assert columns["tenure"]["test"] == "wasserstein_normed"  # 3000 reference rows
    html = Path(data["html"])
    assert html.is_file() and html.parent.parent == project / ".loopline" / "reports"
    listed = run_cli("monitor", "reports", "--json", cwd=project)
    assert listed.exit_code == 0, listed.stderr
    [saved] = json.loads(listed.stdout)
    assert saved["report_id"] == data["report_id"]
    assert (saved["model_name"], saved["model_version"]) == ("churn", "1")
    assert saved["drifted_columns"] == data["drift"]["drifted_columns"]
    human = run_cli("monitor", "reports", cwd=project)
    assert "churn" in human.stdout and str(html) in human.stdout


def test_too_few_rows_says_so_instead_of_deciding(project: Path) -> None:
    result = run_cli(
        "monitor", "report", "churn", "--window", "1h", "--min-rows", "5000", cwd=project
    )
    assert result.exit_code == 0, result.stderr
    assert "not enough data" in result.stdout and "at least 5000 are needed" in result.stdout
    as_json = run_cli(
        "monitor", "report", "churn", "--since", "1h", "--min-rows", "5000", "--json",
        cwd=project,
    )  # fmt: skip
    data = json.loads(as_json.stdout)
    assert data["decided"] is False and data["drift"] is None
    assert json.loads(run_cli("monitor", "reports", "--json", cwd=project).stdout) == []
    # An empty window is "not enough data", not an error, and names what it looked at.
    old = run_cli("monitor", "report", "churn", "--since", "2020-01-01", "--until",
                  "2020-01-02", cwd=project)  # fmt: skip
    assert old.exit_code == 0, old.stderr
    assert "holds 0 rows of churn (no version logged in the window)" in old.stdout
    assert "version ?" not in old.stdout


def test_unknown_version_backwards_window_and_missing_log_folder(project: Path) -> None:
    unknown = run_cli("monitor", "report", "churn", "--version", "7", "--window", "1h",
                      cwd=project)  # fmt: skip
    assert unknown.exit_code == 3, unknown.stdout
    assert "version 7 of 'churn' has no logged requests" in unknown.stderr
    assert "logged versions: 1" in unknown.stderr
    backwards = run_cli("monitor", "report", "churn", "--since", "2026-01-02", "--until",
                        "2026-01-01", cwd=project)  # fmt: skip
    assert backwards.exit_code == 2 and "at or after it ends" in backwards.stderr
    nowhere = run_cli("monitor", "report", "churn", "--log-dir", str(project / "nope"),
                      cwd=project)  # fmt: skip
    assert nowhere.exit_code == 3 and "nope does not exist" in nowhere.stderr


def test_reference_file_and_unknown_model(project: Path) -> None:
    _frame(800, 0.0, 3).to_csv(project / "golden.csv", index=False)
    result = run_cli(
        "monitor", "report", "churn", "--reference", "golden.csv", "--json", cwd=project
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["drift"]["columns"]["tenure"]["test"] == "ks"
    missing = run_cli("monitor", "report", "fraud", cwd=project)
    assert missing.exit_code == 3 and "holds no requests of model 'fraud'" in missing.stderr
    bad = run_cli("monitor", "report", "churn", "--window", "soon", cwd=project)
    assert bad.exit_code == 2 and "is not a duration" in bad.stderr


def test_an_edited_training_file_is_not_taken_for_what_the_run_read(project: Path) -> None:
    """With the run's content gone from the object cache, the edited workspace file is refused;
    the same content written back is accepted (its content id matches lineage)."""
    from loopline.data.workspace import Workspace
    from loopline.registry import RegistryClient

    [oid] = [o for p, o in RegistryClient().lineage("churn", "1").data if p == "train.parquet"]
    with Workspace(project) as workspace:
        cached = workspace.odb.path(oid)
    original = cached.read_bytes()
    cached.chmod(0o644)
    cached.unlink()
    refused = run_cli("monitor", "report", "churn", "--window", "1h", cwd=project)
    assert refused.exit_code == 3, refused.stdout
    assert "train.parquet changed since run" in refused.stderr
    assert "--reference FILE" in refused.stderr
    (project / "train.parquet").write_bytes(original)
    accepted = run_cli("monitor", "report", "churn", "--window", "1h", "--json", cwd=project)
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["drift"]["columns"]["tenure"]["drifted"]


def test_bad_html_paths_are_refused_before_a_report_is_saved(project: Path) -> None:
    for target, says in [("", "empty path"), ("nodir/x.html", "the folder nodir does not exist")]:
        result = run_cli("monitor", "report", "churn", "--window", "1h", "--html", target,
                         cwd=project)  # fmt: skip
        assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert json.loads(run_cli("monitor", "reports", "--json", cwd=project).stdout) == []


def test_labelled_feedback_adds_performance_to_the_report(project: Path) -> None:
    """Labels for the logged requests: the JSON gains a separate "performance" key (the drift
    keys unchanged) and the HTML a performance section with the same accuracy."""
    from loopline.serving.inference_log import FeedbackEntry, write_feedback

    labels = [
        FeedbackEntry(f"req-{index}", tuple(int(v) for v in (batch["calls"] > 2)))
        for index, batch in enumerate([_frame(600, 0.0, 10), _frame(600, 1.0, 11)])
    ]
    write_feedback(project / ".loopline" / "serving", labels)
    result = run_cli("monitor", "report", "churn", "--window", "1h", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data["drift"]) == {"dataset_drift", "drift_share", "drifted_columns", "columns"}
    current = data["performance"]["current"]
    assert current["labelled_rows"] == 1200 and current["status"] == "ok"
    assert 0.5 < current["metrics"]["accuracy"] <= 1.0
    assert data["performance"]["reference_window"] is None  # nothing labelled the hour before
    assert current["buckets"]
    page = Path(data["html"]).read_text()
    assert "Performance on labelled feedback" in page and "id='performance'" in page
    assert f"{current['metrics']['accuracy']:.4f}" in page
    human = run_cli("monitor", "report", "churn", "--window", "1h", cwd=project)
    assert "performance: 1200 labelled rows; accuracy" in human.stdout


def test_run_and_report_agree_on_the_drift_share(project: Path) -> None:
    """`monitor run` judges prediction drift as `monitor report` does, so both give one share."""
    report = run_cli("monitor", "report", "churn", "--window", "1h", "--json", cwd=project)
    assert report.exit_code == 0, report.stderr
    run = run_cli("monitor", "run", "churn", "--once", "--window", "1h", "--json", cwd=project)
    assert run.exit_code == 0, run.stderr
    [evaluation] = json.loads(run.stdout)
    drift = evaluation["drift"]
    assert "prediction" in drift["columns"]
    assert drift["drift_share"] == json.loads(report.stdout)["drift"]["drift_share"]


def test_a_report_whose_folder_was_deleted_is_listed_as_missing(project: Path) -> None:
    import shutil

    made = run_cli("monitor", "report", "churn", "--window", "1h", "--json", cwd=project)
    assert made.exit_code == 0, made.stderr
    shutil.rmtree(Path(json.loads(made.stdout)["html"]).parent)
    [listed] = json.loads(run_cli("monitor", "reports", "--json", cwd=project).stdout)
    assert listed["missing"] is True
    assert "(missing: deleted?)" in run_cli("monitor", "reports", cwd=project).stdout
