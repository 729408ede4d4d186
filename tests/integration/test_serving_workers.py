"""`loopline serve --workers 2`: metrics count every worker's requests, and a worker killed
with SIGKILL is replaced while the server keeps answering."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration._serving import (
    ModelServer,
    SteadyLoad,
    churn_data,
    metric_total,
    process_state,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)

WORKERS = 2
ROWS = 3
KILL_FAILURES_ALLOWED = 3  # requests in flight on the killed worker may fail


@dataclass(frozen=True)
class Served:
    server: ModelServer
    body: dict[str, Any]
    expected: list[int]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("workers")
    estimator = save_churn_model(root / "churn", churn_data(seed=0))
    rows = churn_data(seed=9, rows=ROWS).frame
    args = [f"churn={root / 'churn'}", "--workers", str(WORKERS)]
    with running_server(args, root / "logs", workers=WORKERS) as server:
        yield Served(server, {"inputs": [v2_matrix(rows)]}, estimator.predict(rows).tolist())


def _infer(served: Served) -> Any:
    return served.server.post("/v2/models/churn/infer", served.body)


def _metrics(server: ModelServer) -> str:
    return server.get("/metrics").text


def test_metrics_count_the_requests_of_every_worker(served: Served) -> None:
    server = served.server
    assert len(server.workers()) == WORKERS
    before = _metrics(server)
    requests = 60  # each on a new connection, so the kernel spreads them over the workers
    for _ in range(requests):
        answer = _infer(served)
        assert answer.status == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == served.expected
    after = _metrics(server)

    def grew(name: str, **labels: str) -> float:
        return metric_total(after, name, **labels) - metric_total(before, name, **labels)

    assert grew("model_predictions_total", model_name="churn") == requests * ROWS
    assert grew("inference_requests_total", model_name="churn", code="200") == requests
    assert grew("prediction_latency_seconds_count", model_name="churn") == requests
    assert grew("inference_batch_size_sum", model_name="churn") == requests * ROWS
    for _ in range(5):  # whichever worker answers the scrape, the totals are the same
        assert metric_total(_metrics(server), "model_predictions_total") == metric_total(
            after, "model_predictions_total"
        )


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(served: Served) -> None:
    """The last test of the module: it ends by stopping the server."""
    server = served.server
    workers = wait_until(
        lambda: server.workers() if len(server.workers()) == WORKERS else None,
        20,
        f"{WORKERS} workers",
    )
    before = metric_total(_metrics(server), "model_predictions_total", model_name="churn")
    victim = min(workers)
    with SteadyLoad(lambda: _infer(served)) as load:
        load.wait_for(20)
        os.kill(victim, signal.SIGKILL)
        killed_at = len(load.snapshot())
        replacement = wait_until(
            lambda: (server.workers() - workers) if len(server.workers()) == WORKERS else None,
            30,
            "a new worker process",
            interval=0.1,
        )
        load.wait_for(40)
    outcomes = load.snapshot()
    failures = [o for o in outcomes if o.status != 200]
    assert victim not in server.workers()
    assert len(replacement) == 1
    assert len(failures) <= KILL_FAILURES_ALLOWED, failures
    assert all(o.status == 200 for o in outcomes[killed_at + len(failures) + 5 :])
    assert all(o.body["outputs"][0]["data"] == served.expected for o in outcomes if o.status == 200)
    assert server.process.poll() is None

    for _ in range(20):  # and afterwards, every request succeeds
        assert _infer(served).status == 200

    text = _metrics(server)
    answered = sum(1 for o in outcomes if o.status == 200) + 20
    total = metric_total(text, "model_predictions_total", model_name="churn") - before
    # the killed worker's counts survive it; a request it counted but never answered may add
    assert answered * ROWS <= total <= (answered + len(failures)) * ROWS
    # a request the killed worker was handling stops counting as in flight (once the
    # replacement has started, which cleans up after the dead worker)
    wait_until(
        lambda: metric_total(_metrics(server), "inference_requests_in_flight") == 0,
        20,
        "no request in flight",
        interval=0.2,
    )

    # SIGTERM still stops the whole server, the replacement worker included
    everyone = server.workers()
    assert server.terminate() in (0, -signal.SIGTERM)
    wait_until(
        lambda: all(process_state(pid) in (None, "Z", "X") for pid in everyone),
        10,
        "the workers to exit",
    )
