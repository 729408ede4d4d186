"""Metric sources: the servers' own /metrics, scraped over real HTTP and differenced."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from loopline.core.errors import RemoteError
from loopline.rollout.sources import ServerMetricsSource, quantile_from_buckets


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert quantile_from_buckets(0.99, buckets) == pytest.approx(0.95)
    assert quantile_from_buckets(0.5, buckets) == pytest.approx(0.1)
    assert quantile_from_buckets(0.25, buckets) == pytest.approx(0.05)
    assert quantile_from_buckets(0.99, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    # Everything above the last finite bound: Prometheus answers that bound.
    assert quantile_from_buckets(0.99, [(0.1, 1.0), (float("inf"), 100.0)]) == 0.1


class Exporter:
    """A real HTTP /metrics endpoint exposing series the way a deployment's server does."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["model_name", "variant"]
        self.requests = Counter("inference_requests", "", [*labels, "code"], registry=self.registry)
        self.latency = Histogram(
            "prediction_latency_seconds", "", labels, registry=self.registry,
            buckets=(0.005, 0.01, 0.05, 0.1),
        )  # fmt: skip
        self.loaded = Gauge("model_load_seconds", "", labels, registry=self.registry)
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    found = Exporter()
    yield found
    found.server.shutdown()


def test_window_differences_counters_since_the_step_began(exporter: Exporter) -> None:
    source = ServerMetricsSource([exporter.url])
    assert not source.ready("churn", "candidate")
    exporter.loaded.labels("churn", "candidate").set(0.5)
    exporter.loaded.labels("churn", "champion").set(0.5)
    exporter.requests.labels("churn", "candidate", "200").inc(1000)  # before the step
    assert source.ready("churn", "candidate")
    source.observe("churn")
    since = source._history["churn"][-1].at
    exporter.requests.labels("churn", "candidate", "200").inc(190)
    exporter.requests.labels("churn", "candidate", "503").inc(10)
    exporter.requests.labels("churn", "champion", "200").inc(800)
    exporter.requests.labels("other", "candidate", "500").inc(99)  # another deployment
    for _ in range(99):
        exporter.latency.labels("churn", "candidate").observe(0.003)
    exporter.latency.labels("churn", "candidate").observe(0.07)
    window = source.window("churn", "champion", "candidate", since, since + 60)
    assert window.candidate.requests == 200
    assert window.candidate.errors == 10
    assert window.champion.requests == 800
    assert window.candidate.latency_p99_ms == pytest.approx(5.0)


def test_an_unreachable_server_is_a_clear_error() -> None:
    source = ServerMetricsSource(["http://127.0.0.1:9/metrics"], timeout=1)
    with pytest.raises(RemoteError, match="cannot read the model server's metrics"):
        source.ready("churn", "candidate")  # the real cause, not "not ready"
    with pytest.raises(RemoteError, match="cannot read the model server's metrics"):
        source.observe("churn")
