"""A real Prometheus scrapes the monitoring exporter, evaluates the generated alert rules and
sends a drift alert through a real Alertmanager to a webhook; every dashboard query runs on it."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loopline.monitoring.alerts import AlertRules, render_rules
from loopline.monitoring.dashboard import build_dashboard
from loopline.monitoring.exporter import MetricsEndpoint, MonitoringGauges
from tests.integration._serving import free_port, http_request, wait_until
from tests.unit.monitoring.test_dashboard import interpolate

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
DRIFT = {
    "dataset_drift": True,
    "drift_share": 0.75,
    "drifted_columns": 3,
    "columns": {
        name: {
            "type": "numeric",
            "test": "ks",
            "statistic": 0.4,
            "p_value": 1e-6,
            "threshold": 0.05,
            "drifted": name != "d",
        }
        for name in "abcd"
    },
}


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    prometheus_port: int
    received: list[dict[str, Any]]
    logs: list[Path]

    def query(self, expression: str) -> dict[str, Any]:
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        answer = http_request(self.prometheus_port, "GET", path, timeout=5)
        return dict(answer.json())

    def tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in self.logs if p.exists())


def _start(command: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for binary in (PROMETHEUS, ALERTMANAGER):
        if not Path(binary).exists():
            pytest.skip(
                f"{binary} is missing (Debian packages prometheus, prometheus-alertmanager)"
            )
    root = tmp_path_factory.mktemp("alerting")
    gauges = MonitoringGauges()
    gauges.set_drift("churn", "3", DRIFT)
    gauges.set_drift("fraud", "1", {**DRIFT, "drift_share": 0.25, "dataset_drift": False})
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    hook.received = []  # type: ignore[attr-defined]
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    rules = AlertRules(hold=timedelta(seconds=2), interval=timedelta(seconds=1))
    (root / "rules.yaml").write_text(render_rules(rules))
    manager_port, prometheus_port = free_port(), free_port()
    (root / "alertmanager.yml").write_text(
        json.dumps(
            {
                "route": {"receiver": "hook", "group_wait": "1s", "group_interval": "1s",
                          "repeat_interval": "1h", "group_by": ["alertname", "model_name"]},
                "receivers": [{"name": "hook", "webhook_configs": [
                    {"url": f"http://127.0.0.1:{hook.server_port}/alerts"}]}],
            }
        )
    )  # fmt: skip
    processes = []
    logs = [root / "alertmanager.log", root / "prometheus.log"]
    with MetricsEndpoint(gauges, port=0) as endpoint:
        (root / "prometheus.yml").write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": ["rules.yaml"],
                    "alerting": {"alertmanagers": [
                        {"static_configs": [{"targets": [f"127.0.0.1:{manager_port}"]}]}]},
                    "scrape_configs": [{"job_name": "loopline-monitor", "static_configs": [
                        {"targets": [f"127.0.0.1:{endpoint.port}"]}]}],
                }
            )
        )  # fmt: skip
        try:
            processes.append(
                _start(
                    [ALERTMANAGER, f"--config.file={root / 'alertmanager.yml'}",
                     f"--storage.path={root / 'am-data'}",
                     f"--web.listen-address=127.0.0.1:{manager_port}",
                     "--cluster.listen-address="],
                    logs[0], root,
                )
            )  # fmt: skip
            processes.append(
                _start(
                    [PROMETHEUS, f"--config.file={root / 'prometheus.yml'}",
                     f"--storage.tsdb.path={root / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                    logs[1], root,
                )
            )  # fmt: skip
            running = Stack(prometheus_port, hook.received, logs)  # type: ignore[attr-defined]
            wait_until(
                lambda: (
                    all(p.poll() is None for p in processes)
                    and http_request(prometheus_port, "GET", "/-/ready", timeout=2).status == 200
                    and http_request(manager_port, "GET", "/-/ready", timeout=2).status == 200
                ),
                20,
                "Prometheus and Alertmanager to be ready",
                interval=0.2,
            )
            yield running
        finally:
            for process in reversed(processes):
                _stop(process)
            hook.shutdown()
            hook.server_close()
            shutil.rmtree(root / "tsdb", ignore_errors=True)


def _drift_alerts(stack: Stack) -> list[dict[str, Any]]:
    return [
        alert
        for message in stack.received
        for alert in message.get("alerts", [])
        if alert["labels"].get("alertname") == "LooplineModelDrift"
    ]


@pytest.mark.slow
def test_a_drift_alert_reaches_the_webhook(stack: Stack) -> None:
    try:
        alerts = wait_until(lambda: _drift_alerts(stack), 45, "the drift alert", interval=0.5)
    except AssertionError:
        raise AssertionError(stack.tail()) from None
    labels = alerts[0]["labels"]
    assert labels["model_name"] == "churn" and labels["model_version"] == "3"
    assert labels["severity"] == "warning" and alerts[0]["status"] == "firing"
    assert alerts[0]["annotations"]["summary"] == "Data drift on churn version 3"
    assert "75% of the monitored columns drifted" in alerts[0]["annotations"]["description"]
    assert all(a["labels"]["model_name"] != "fraud" for a in _drift_alerts(stack))


@pytest.mark.slow
def test_every_dashboard_query_is_accepted_by_prometheus(stack: Stack) -> None:
    wait_until(lambda: stack.query("model_drift_share")["data"]["result"], 15, "the first scrape")
    targets = [t for p in build_dashboard()["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 10
    for target in targets:
        answer = stack.query(interpolate(target["expr"]))
        assert answer["status"] == "success", (target["expr"], answer)
    drift_share = stack.query(interpolate(targets_with(targets, "model_drift_share")))
    values = {
        r["metric"]["model_name"]: float(r["value"][1]) for r in drift_share["data"]["result"]
    }
    assert values == {"churn": 0.75, "fraud": 0.25}


def targets_with(targets: list[dict[str, Any]], metric: str) -> str:
    return str(next(t["expr"] for t in targets if metric in t["expr"]))
