"""Transport-level refusals as clients see them: a body over the limit is a 413 that Python
clients actually receive (not a reset connection), and MLflow's endpoint names each refusal with
MLflow's error code instead of INTERNAL_ERROR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopline.serving.app import create_app
from loopline.serving.settings import ModelSpec, ServeSettings

from ._live import LiveServer

BIG = b'{"inputs": [' + b"1.0, " * 1_000_000 + b"1.0]}"  # about 5 MB


@pytest.fixture
def client(churn_model_dir: Path) -> Iterator[LiveServer]:
    settings = ServeSettings(
        models=(ModelSpec("churn", str(churn_model_dir)),), max_body_bytes=20_000
    )
    with LiveServer(create_app(settings)) as server:
        yield server


def test_a_body_over_the_limit_reaches_requests_and_httpx_as_413(client: LiveServer) -> None:
    for path in ("/invocations", "/v2/models/churn/infer"):
        reply = client.post(path, data=BIG, headers={"content-type": "application/json"})
        assert reply.status_code == 413, reply.text
        with httpx.Client(timeout=30) as session:
            answer = session.post(client.base_url + path, content=BIG)
        assert answer.status_code == 413
        assert "limit is 20000" in answer.text

    def chunks() -> Iterator[bytes]:  # no content-length: the limit is found while reading
        for start in range(0, len(BIG), 65_536):
            yield BIG[start : start + 65_536]

    with httpx.Client(timeout=30) as session:
        answer = session.post(client.base_url + "/invocations", content=chunks())
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "RESOURCE_EXHAUSTED"


def test_mlflow_refusals_carry_mlflow_error_codes(client: LiveServer) -> None:
    too_big = client.post("/invocations", data=BIG, headers={"content-type": "application/json"})
    assert too_big.json()["error_code"] == "RESOURCE_EXHAUSTED"
    wrong_type = client.post("/invocations", data=b"x", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error_code"] == "BAD_REQUEST"
    assert "text/csv" in wrong_type.json()["message"]
