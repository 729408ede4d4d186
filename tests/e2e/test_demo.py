"""The README's first command: the end-to-end demo must keep working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "closed_loop" / "demo.py"


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Demo complete" in done.stdout
    assert "files summary: 1 added, 0 deleted, 0 modified" in done.stdout
    # the pipeline: everything runs once, a no-op repro runs nothing, a param change re-runs
    # exactly the stage that uses it
    assert "Stage 'train@forest' finished" in done.stdout
    assert "Data and pipelines are up to date." in done.stdout
    assert "modified:           models.forest" in done.stdout
    assert "params.yaml  models.forest.max_depth  6     8" in done.stdout
    assert done.stdout.count("Running stage 'features'") == 1
    assert done.stdout.count("Running stage 'train@logreg_soft'") == 1
    assert done.stdout.count("Running stage 'train@forest'") == 2
    assert "Registered runs:/" in done.stdout and "churn@champion -> version 1" in done.stdout
    assert "  data       data/features.csv @ " in done.stdout  # lineage: the data it read
    probabilities = done.stdout.split("churn probability: [")[1].split("]")[0].split(", ")
    high, low = (float(p) for p in probabilities)
    assert high > low  # a new, unhappy monthly customer is likelier to leave than a loyal one
    # serving: three protocols, metrics, a live promotion, the inference log and feedback
    assert '"model_version":"1"' in done.stdout and '{"predictions":[1,0]}' in done.stdout
    assert 'model_predictions_total{model_name="churn",model_version="1"' in done.stdout
    assert "every worker now answers with version 2" in done.stdout
    assert '"model_version":"2"' in done.stdout
    assert "feedback: 2 labels, 2 matched to logged requests" in done.stdout
    # monitoring: the two labels are judged against version 1's logged predictions
    assert "ok: 2 of " in done.stdout and "logged rows labelled" in done.stdout
    assert re.search(r"^accuracy +(1|0\.5|0)\.0000", done.stdout, re.MULTILINE)
    # deployments: a canary promotes the third model, a broken challenger is rolled back
    assert "churn: Succeeded — every step passed its checks" in done.stdout
    assert "champion=3" in done.stdout
    assert "churn: Failed — 2 failed checks" in done.stdout
    assert "rolled-back" in done.stdout and "prediction-drift" in done.stdout
    assert "candidate  models:/churn/4         0%" in done.stdout
    assert "accuracy (rate)" in done.stdout and "(control)" in done.stdout
    assert "customer requests, none failed" in done.stdout
    # monitoring after the population shift: drift named, HTML written, accuracy down
    assert re.search(r"DRIFT: [3-5] of 5 columns drifted", done.stdout)
    assert "monthly_charges" in done.stdout.split("DRIFT:")[1][:2000]
    assert (tmp_path / "demo" / "churn" / "drift-report.html").is_file()
    accuracies = [float(m) for m in re.findall(r"^accuracy +([0-9.]+)", done.stdout, re.MULTILINE)]
    assert len(accuracies) >= 3 and accuracies[-1] < accuracies[-2]  # after vs before the shift
