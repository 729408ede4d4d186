"""`/metrics` of `loopline serve` after known traffic: the numbers add up, `promtool` accepts the
exposition, and a real Prometheus scrapes it and computes a rate from it."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration._serving import (
    ChurnData,
    ModelServer,
    SteadyLoad,
    churn_data,
    free_port,
    http_request,
    metric_samples,
    metric_total,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


@dataclass(frozen=True)
class Model:
    folder: Path
    estimator: Any
    rows: Any  # request rows (DataFrame)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("metrics-model")
    data: ChurnData = churn_data(seed=0)
    estimator = save_churn_model(root / "churn", data)
    return Model(root / "churn", estimator, churn_data(seed=5, rows=60).frame)


@pytest.fixture(scope="module")
def server(model: Model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """One server for the module: each test compares the metrics before and after its traffic."""
    with running_server([f"churn={model.folder}"], tmp_path_factory.mktemp("metrics")) as running:
        yield running


class Growth:
    """How much each metric grew between two scrapes."""

    def __init__(self, before: str, after: str) -> None:
        self.before, self.after = before, after

    def __call__(self, name: str, **labels: str) -> float:
        return metric_total(self.after, name, **labels) - metric_total(self.before, name, **labels)


def _send_known_traffic(server: ModelServer, model: Model) -> dict[str, Any]:
    """Successful requests in all three protocols and some refused ones; what was sent."""
    rows = model.rows
    expected: Counter[str] = Counter()
    successes = 0
    chunks = [rows.iloc[i : i + 6] for i in range(0, 30, 6)]  # 5 V2 requests of 6 rows
    for chunk in chunks:
        assert server.post("/v2/models/churn/infer", {"inputs": [v2_matrix(chunk)]}).status == 200
        expected.update(str(p) for p in model.estimator.predict(chunk))
        successes += 1
    for i in range(30, 33):  # 3 TF-Serving requests of 1 row
        one = rows.iloc[i : i + 1]
        answer = server.post("/v1/models/churn:predict", {"instances": one.to_numpy().tolist()})
        assert answer.status == 200
        expected.update(str(p) for p in model.estimator.predict(one))
        successes += 1
    for start in (33, 37):  # 2 MLflow requests of 4 rows
        four = rows.iloc[start : start + 4]
        split = {"columns": list(four.columns), "data": four.to_numpy().tolist()}
        assert server.post("/invocations", {"dataframe_split": split}).status == 200
        expected.update(str(p) for p in model.estimator.predict(four))
        successes += 1
    bad = [
        {"inputs": []},
        {"inputs": [v2_matrix(rows.iloc[:2].drop(columns=["age"]))]},
        {"inputs": [{**v2_matrix(rows.iloc[:2]), "datatype": "BYTES"}]},
    ]
    for body in bad:
        assert server.post("/v2/models/churn/infer", body).status == 400
    assert server.post("/invocations", {"nothing": 1}).status == 400
    unknown_version = server.post("/v2/models/churn/versions/7/infer", {"inputs": []})
    assert unknown_version.status == 404
    return {
        "predictions": expected,
        "rows": sum(expected.values()),
        "successes": successes,
        "by_protocol": {"v2": 5, "tfserving": 3, "mlflow": 2},
    }


def test_metrics_add_up_to_the_traffic_sent(server: ModelServer, model: Model) -> None:
    before = server.get("/metrics").text
    sent = _send_known_traffic(server, model)
    answer = server.get("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    grew = Growth(before, text)

    predictions = metric_samples(text, "model_predictions_total")
    assert {labels["model_name"] for labels, _ in predictions} == {"churn"}
    assert {labels["model_version"] for labels, _ in predictions} == {"1"}
    by_class = {
        label: grew("model_predictions_total", prediction=label)
        for label in {labels["prediction"] for labels, _ in predictions}
    }
    assert {k: v for k, v in by_class.items() if v} == {
        k: float(v) for k, v in sent["predictions"].items()
    }
    assert sum(by_class.values()) == sent["rows"] == 41

    assert grew("prediction_latency_seconds_count", model_name="churn") == sent["successes"]
    assert grew("prediction_latency_seconds_bucket", le="+Inf") == sent["successes"]
    assert grew("prediction_latency_seconds_sum") > 0

    for protocol, count in sent["by_protocol"].items():
        assert grew("inference_requests_total", protocol=protocol, code="200") == count, protocol
    assert grew("inference_requests_total", protocol="v2", code="400") == 3
    assert grew("inference_requests_total", protocol="mlflow", code="400") == 1
    assert grew("inference_requests_total", model_name="churn", code="404") == 1
    assert grew("inference_batch_size_sum", model_name="churn") == 41
    assert metric_total(text, "inference_requests_in_flight") == 0
    assert metric_total(text, "model_load_seconds", model_name="churn", model_version="1") > 0


def test_promtool_accepts_the_exposition(server: ModelServer, model: Model) -> None:
    if not Path(PROMTOOL).exists():
        pytest.skip(f"{PROMTOOL} is missing (Debian package prometheus)")
    _send_known_traffic(server, model)
    text = server.get("/metrics").body
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert lint.returncode == 0, (lint.stdout + lint.stderr).decode()


def test_requests_for_unknown_models_do_not_create_metric_series(server: ModelServer) -> None:
    for i in range(5):
        answer = server.post(f"/v2/models/probe-{i}/infer", {"inputs": []})
        assert answer.status == 404
    text = server.get("/metrics").text
    names = {
        labels.get("model_name") for labels, _ in metric_samples(text, "inference_requests_total")
    }
    assert not any(str(n).startswith("probe-") for n in names), names


# -- a real Prometheus -------------------------------------------------------------------------


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    def query(self, expression: str) -> list[dict[str, Any]]:
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        answer = http_request(self.port, "GET", path, timeout=5)
        assert answer.status == 200, answer.text
        data = answer.json()
        assert data["status"] == "success", data
        return list(data["data"]["result"])


@pytest.fixture
def prometheus(server: ModelServer, tmp_path: Path) -> Iterator[Prometheus]:
    if not Path(PROMETHEUS).exists():
        pytest.skip(f"{PROMETHEUS} is missing (Debian package prometheus)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "loopline-serve",
                        "scrape_interval": "1s",
                        "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    storage = tmp_path / "tsdb"
    storage.mkdir()
    log_file = tmp_path / "prometheus.log"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    running = Prometheus(process, port, log_file)
    try:
        wait_until(
            lambda: (
                process.poll() is None
                and http_request(port, "GET", "/-/ready", timeout=2).status == 200
            ),
            20,
            "Prometheus to be ready: " + log_file.read_text(errors="replace")[-1500:],
            interval=0.1,
        )
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        shutil.rmtree(storage, ignore_errors=True)


@pytest.mark.slow
def test_prometheus_scrapes_the_server_and_computes_a_prediction_rate(
    server: ModelServer, prometheus: Prometheus, model: Model
) -> None:
    body = {"inputs": [v2_matrix(model.rows.iloc[:4])]}
    with SteadyLoad(lambda: server.post("/v2/models/churn/infer", body), pause_s=0.02) as load:

        def positive_rate() -> list[dict[str, Any]]:
            result = prometheus.query('rate(model_predictions_total{model_name="churn"}[1m])')
            return [r for r in result if float(r["value"][1]) > 0]

        rates = wait_until(positive_rate, 25, "a positive rate in Prometheus", interval=0.5)
    assert not load.failures()
    assert {r["metric"]["model_version"] for r in rates} == {"1"}
    assert sum(float(r["value"][1]) for r in rates) > 1.0  # rows/s, the load sends far more
    up = prometheus.query('up{job="loopline-serve"}')
    assert [float(r["value"][1]) for r in up] == [1.0]
