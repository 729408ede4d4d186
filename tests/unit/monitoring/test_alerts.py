"""Alerting rules: accepted by ``promtool check rules`` and firing as intended under
``promtool test rules`` (series in, alerts out)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from loopline.core.errors import InvalidInput
from loopline.monitoring.alerts import AlertRules, PerformanceFloor, render_rules
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _run_tests(tmp_path: Path, rules: AlertRules, tests: list[dict[str, Any]]) -> None:
    (tmp_path / "rules.yaml").write_text(render_rules(rules))
    check = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "rules_test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = _promtool("test", "rules", "rules_test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def _alert(
    at: str, name: str, *labels: dict[str, str], rules: AlertRules | None = None, value: str = ""
) -> dict[str, Any]:
    """Expect ``name`` firing at ``at`` once per labels, with the rule's annotations filled in
    (``$labels.x`` from the labels, ``$value`` as the text promtool prints)."""
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": dict(label), "exp_annotations": _filled(rules, name, label, value)}
            for label in labels
        ],
    }


def _filled(
    rules: AlertRules | None, name: str, labels: dict[str, str], value: str
) -> dict[str, str]:
    built = (rules or AlertRules()).build()
    rule = next(r for g in built["groups"] for r in g["rules"] if r.get("alert") == name)
    found = {}
    for key, text in rule["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        found[key] = re.sub(r"\{\{ \$value[^}]*\}\}", value, text)
    return found


def test_error_rate_and_latency_alerts_fire_after_their_hold(tmp_path: Path) -> None:
    served = 'model_name="churn",protocol="v2"'
    latency = 'prediction_latency_seconds_bucket{model_name="churn",model_version="3"'
    series = [
        {"series": f'inference_requests_total{{{served},code="200"}}', "values": "0+90x30"},
        {"series": f'inference_requests_total{{{served},code="500"}}', "values": "0+10x30"},
        {"series": 'inference_requests_total{model_name="fraud",protocol="v2",code="200"}',
         "values": "0+50x30"},
        {"series": f'{latency},le="0.5"}}', "values": "0+1x30"},
        {"series": f'{latency},le="1"}}', "values": "0+10x30"},
        {"series": f'{latency},le="+Inf"}}', "values": "0+10x30"},
    ]  # fmt: skip
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                _alert("3m", "LooplineModelHighErrorRate"),
                _alert(
                    "10m", "LooplineModelHighErrorRate",
                    {"severity": "critical", "model_name": "churn"}, value="10%",
                ),
                _alert("5m", "LooplineModelHighLatencyP95"),
                _alert(
                    "15m", "LooplineModelHighLatencyP95",
                    {"severity": "warning", "model_name": "churn", "model_version": "3"},
                    value="972.2ms",
                ),
                _alert("10m", "LooplineModelNoTraffic"),
            ],
            "promql_expr_test": [
                {
                    "expr": "model_name:inference_requests_errors:ratio_rate5m",
                    "eval_time": "10m",
                    "exp_samples": [
                        {"labels": 'model_name:inference_requests_errors:ratio_rate5m'
                                   '{model_name="churn"}', "value": 0.1},
                    ],
                },
            ],
        }
    ]  # fmt: skip
    # fraud has no 5xx series, so no ratio and no alert for it
    _run_tests(tmp_path, AlertRules(), tests)


def test_no_traffic_fires_for_a_silent_model_and_for_a_named_model_that_vanished(
    tmp_path: Path,
) -> None:
    series = [
        {"series": 'inference_requests_total{model_name="churn",protocol="v2",code="200"}',
         "values": "100x40"},
        {"series": 'inference_requests_total{model_name="fraud",protocol="v2",code="200"}',
         "values": "0+5x40"},
    ]  # fmt: skip
    _run_tests(
        tmp_path,
        AlertRules(),
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    _alert("30m", "LooplineModelNoTraffic",
                           {"severity": "warning", "model_name": "churn"}),
                ],
            }
        ],
    )  # fmt: skip
    _run_tests(
        tmp_path,
        AlertRules(model="scoring"),
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    _alert("10m", "LooplineModelNoTraffic",
                           {"severity": "warning", "model_name": "scoring"},
                           rules=AlertRules(model="scoring")),
                ],
            }
        ],
    )  # fmt: skip


def test_drift_alert_fires_with_its_annotations(tmp_path: Path) -> None:
    labels = 'model_name="churn",model_version="3"'
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": f"model_drift_share{{{labels}}}", "values": "0.2 0.2 0.6x40"},
                {"series": 'model_drift_share{model_name="fraud",model_version="1"}',
                 "values": "0.3x40"},
            ],
            "alert_rule_test": [
                _alert("10m", "LooplineModelDrift"),
                {
                    "eval_time": "20m",
                    "alertname": "LooplineModelDrift",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "model_name": "churn",
                                           "model_version": "3", "team": "ml"},
                            "exp_annotations": {
                                "summary": "Data drift on churn version 3",
                                "description": "60% of the monitored columns drifted "
                                               "(dataset drift from 50%).",
                                "runbook": AlertRules().build()["groups"][1]["rules"][0][
                                    "annotations"]["runbook"],
                                "runbook_url": "https://runbooks.example/ml#LooplineModelDrift",
                            },
                        }
                    ],
                },
            ],
        }
    ]  # fmt: skip
    rules = AlertRules(runbook_url="https://runbooks.example/ml/", extra_labels={"team": "ml"})
    _run_tests(tmp_path, rules, tests)


def test_performance_bounds_need_enough_labels(tmp_path: Path) -> None:
    def version(v: str, metric: str, value: str, rows: str) -> list[dict[str, str]]:
        labels = f'model_name="churn",model_version="{v}"'
        return [
            {"series": f'model_performance{{{labels},metric="{metric}"}}', "values": value},
            {"series": f"model_labelled_rows{{{labels}}}", "values": rows},
        ]

    series = [
        *version("3", "accuracy", "0.7x60", "500x60"),
        *version("4", "accuracy", "0.5x60", "50x60"),  # too few labels to judge
        *version("5", "rmse", "12x60", "500x60"),
    ]
    expected = {"severity": "warning", "model_name": "churn", "metric": "accuracy"}
    rules = AlertRules(
        floors=(PerformanceFloor("accuracy", 0.8), PerformanceFloor("rmse", 10.0)),
        min_labels=100,
    )
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                _alert("20m", "LooplineModelAccuracyBelowBound"),
                _alert("40m", "LooplineModelAccuracyBelowBound",
                       {**expected, "model_version": "3"}, rules=rules, value="0.7"),
                _alert("40m", "LooplineModelRmseAboveBound",
                       {**expected, "metric": "rmse", "model_version": "5"}, rules=rules,
                       value="12"),
            ],
        }
    ]  # fmt: skip
    _run_tests(tmp_path, rules, tests)


def test_short_holds_and_intervals_for_quick_set_ups(tmp_path: Path) -> None:
    built = AlertRules(hold=timedelta(seconds=5), interval=timedelta(seconds=2)).build()
    assert {g["interval"] for g in built["groups"]} == {"2s"}
    assert {r["for"] for g in built["groups"] for r in g["rules"] if "alert" in r} == {"5s"}
    for group in built["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["labels"]["severity"] in {"warning", "critical"}
                assert {"summary", "description", "runbook"} <= set(rule["annotations"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error_ratio": 0}, "error_ratio"),
        ({"drift_share": 1.5}, "drift_share"),
        ({"latency_p95_seconds": -1}, "latency"),
        ({"model": 'a"b'}, "PromQL"),
    ],
)
def test_bad_thresholds_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        AlertRules(**kwargs)
    with pytest.raises(InvalidInput, match="no performance metric"):
        PerformanceFloor("accuracyy", 0.5)


def test_cli_writes_rules_promtool_accepts(tmp_path: Path) -> None:
    result = run_cli(
        "monitor", "alerts", "-o", str(tmp_path / "rules.yaml"), "--model", "churn",
        "--floor", "roc_auc=0.75", "--floor", "log_loss=0.6", "--drift-share", "0.3",
        "--for", "30s", "--interval", "10s",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    check = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    text = (tmp_path / "rules.yaml").read_text()
    assert 'model_drift_share{model_name="churn"} >= 0.3' in text
    assert 'metric="log_loss"} > 0.6' in text and "for: 30s" in text
    bad = run_cli("monitor", "alerts", "--floor", "accuracy")
    assert bad.exit_code == 2 and "METRIC=VALUE" in bad.stderr


@pytest.mark.parametrize("floor", ["f1=2", "accuracy=-0.1", "rmse=-1"])
def test_a_floor_no_metric_can_reach_is_refused(floor: str) -> None:
    result = run_cli("monitor", "alerts", "--floor", floor)
    assert result.exit_code == 2, result.stdout
    assert "outside 0..1" in result.stderr or "below 0" in result.stderr
