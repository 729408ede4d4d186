"""The rollout controller's PromQL source against a real Prometheus (Debian package) scraping a
real `loopline serve --deployment` on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from loopline.core.errors import RemoteError
from loopline.data.init import init_project
from loopline.rollout.deployments import Deployments
from loopline.rollout.sources import PrometheusSource
from loopline.store import open_store
from tests.integration._serving import (
    churn_data,
    free_port,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)

PROMETHEUS = "/usr/bin/prometheus"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(PROMETHEUS) is None, reason="Debian package prometheus missing")
def test_windows_come_from_promql_over_the_servers_metrics(tmp_path: Path) -> None:
    from loopline.registry import RegistryClient

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    url = f"sqlite:///{root / '.loopline' / 'store.db'}"
    registry = RegistryClient(url)
    data = churn_data(seed=0)
    for kind in ("logreg", "tree"):
        save_churn_model(tmp_path / kind, data, kind=kind)
        registry.register(str(tmp_path / kind), "churn")
    deployments = Deployments(open_store(url))
    deployments.create("churn", {"champion": "models:/churn/1", "candidate": "models:/churn/2"})
    deployments.set_traffic("churn", {"champion": 50, "candidate": 50})
    body = {"inputs": [v2_matrix(churn_data(seed=3, rows=1).frame)]}

    with running_server(["--deployment", "churn"], root / "logs", cwd=root) as server:
        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: loopline\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
        )
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            source = PrometheusSource(f"http://127.0.0.1:{prom_port}")

            def scraped() -> bool:
                try:
                    return source.ready("churn", "candidate")
                except RemoteError:  # Prometheus still starting
                    return False

            wait_until(scraped, 30, "Prometheus to scrape the server")
            # As in a real canary, Prometheus already scrapes the series when the window opens
            # (increase() cannot count what happened before a series' first sample).
            for _ in range(20):
                server.post("/v2/models/churn/infer", body)
            time.sleep(3)
            start = time.time()
            for _ in range(200):
                assert server.post("/v2/models/churn/infer", body).status == 200
            time.sleep(3)  # two more scrapes after the last request

            def counted() -> object:
                window = source.window("churn", "champion", "candidate", start - 1, time.time())
                total = window.candidate.requests + window.champion.requests
                return window if total >= 150 else None

            window = wait_until(counted, 30, "the requests to show in PromQL")
            assert window.candidate.requests > 30 and window.champion.requests > 30
            assert window.candidate.errors == 0
            assert window.candidate.latency_p99_ms is not None
            assert 0 < window.candidate.latency_p99_ms < 5000
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=30)
