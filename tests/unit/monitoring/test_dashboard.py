"""The Grafana dashboard: a structurally valid JSON model over the metrics that really exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loopline.monitoring.dashboard import SCHEMA_VERSION, build_dashboard
from tests.conftest import run_cli

# Every metric family the model server and the monitoring exporter expose.
KNOWN = {
    "model_predictions_total", "inference_requests_total", "prediction_latency_seconds_bucket",
    "inference_batch_size_bucket", "inference_queue_wait_seconds_bucket", "model_drift_share",
    "model_feature_drift", "model_feature_drifted", "model_performance", "model_labelled_rows",
    "model_labelled_share",
}  # fmt: skip


def interpolate(expr: str) -> str:
    """What Grafana sends for "All" with a 1 m rate interval."""
    return expr.replace("$__rate_interval", "1m").replace("$model", ".*").replace("$version", ".*")


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_structure() -> None:
    dashboard = build_dashboard()
    json.loads(json.dumps(dashboard))
    assert 8 <= len(dashboard["uid"]) <= 40 and dashboard["schemaVersion"] == SCHEMA_VERSION >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 1 <= grid["w"] <= 24 and grid["x"] + grid["w"] <= 24 and grid["h"] >= 1
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"]["uid"] == "${datasource}"
        steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps")
        if steps:
            assert steps[0]["value"] is None


def test_the_panels_the_issue_names_use_real_metric_names() -> None:
    exprs = [t["expr"] for t in _targets(build_dashboard())]
    text = "\n".join(exprs)
    assert "rate(model_predictions_total{" in text
    assert "histogram_quantile(0.95, sum by (model_version, le) (rate(prediction_latency" in text
    for needed in ("inference_batch_size_bucket", 'code=~"5.."', "model_drift_share",
                   "model_feature_drift{", "model_performance", "model_labelled_rows"):  # fmt: skip
        assert needed in text, needed
    for expr in exprs:
        for name in re.findall(r"\b([a-z_]+)\{", expr):
            assert name in KNOWN, f"{name} is no metric Loopline exports"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_every_expression_parses_as_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr:{i}", "expr": interpolate(t["expr"])}
                    for i, t in enumerate(_targets(build_dashboard()))
                ],
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(json.dumps(rules))
    done = subprocess.run(
        ["promtool", "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_writes_the_dashboard(tmp_path: Path) -> None:
    target = tmp_path / "dashboard.json"
    result = run_cli("monitor", "dashboard", "-o", str(target), "--uid", "team-models")
    assert result.exit_code == 0, result.stderr
    assert json.loads(target.read_text())["uid"] == "team-models"
    bad = run_cli("monitor", "dashboard", "--uid", "no spaces please")
    assert bad.exit_code == 2 and "uid" in bad.stderr
