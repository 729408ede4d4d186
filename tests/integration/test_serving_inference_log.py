"""The inference log and feedback of `loopline serve`: every answered request's rows land in the
Parquet log under the request id the client was given, a request in flight at SIGTERM is still
answered and logged, and true labels sent back by HTTP or the CLI are recorded."""

from __future__ import annotations

import http.client
import json
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopline.serving import read_feedback, read_inference_log
from tests.conftest import run_cli
from tests.integration._serving import (
    FEATURES,
    ModelServer,
    accepts_connections,
    churn_data,
    metric_total,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)


@dataclass
class Sent:
    """What the client sent and got back, per request id."""

    rows: dict[str, Any] = field(default_factory=dict)  # request id -> DataFrame
    predictions: dict[str, list[int]] = field(default_factory=dict)

    def add(self, request_id: str, rows: Any, predictions: list[int]) -> None:
        assert request_id not in self.rows, f"request id {request_id} given twice"
        self.rows[request_id] = rows
        self.predictions[request_id] = predictions


def _send_traffic(server: ModelServer, frame: Any) -> tuple[Sent, list[str]]:
    """Twelve answered requests in the three protocols (some with the client's own request
    id), and three refused ones; returns the answered ones and the refused requests' ids."""
    sent = Sent()
    start = 0
    for i in range(5):
        rows = frame.iloc[start : start + 3]
        start += 3
        headers = {"X-Request-ID": f"client-{i}"} if i % 2 == 0 else None
        answer = server.post("/v2/models/churn/infer", {"inputs": [v2_matrix(rows)]}, headers)
        assert answer.status == 200, answer.text
        sent.add(answer.headers["x-request-id"], rows, answer.json()["outputs"][0]["data"])
    for _ in range(4):
        rows = frame.iloc[start : start + 1]
        start += 1
        answer = server.post("/v1/models/churn:predict", {"instances": rows.to_numpy().tolist()})
        assert answer.status == 200, answer.text
        sent.add(answer.headers["x-request-id"], rows, answer.json()["predictions"])
    for _ in range(3):
        rows = frame.iloc[start : start + 2]
        start += 2
        split = {"columns": FEATURES, "data": rows.to_numpy().tolist()}
        answer = server.post("/invocations", {"dataframe_split": split})
        assert answer.status == 200, answer.text
        sent.add(answer.headers["x-request-id"], rows, answer.json()["predictions"])
    refused = []
    for body in ({"inputs": []}, {"inputs": [v2_matrix(frame.iloc[:2, :5])]}, {"x": 1}):
        answer = server.post("/v2/models/churn/infer", body)
        assert answer.status == 400
        refused.append(answer.headers["x-request-id"])
    return sent, refused


@dataclass
class InFlight:
    """A request whose body is only half sent: the server has started on it, not finished."""

    sock: socket.socket
    rest: bytes

    def finish(self) -> tuple[int, dict[str, Any]]:
        self.sock.sendall(self.rest)
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        body = json.loads(response.read())
        self.sock.close()
        return response.status, body


def _start_half_request(port: int, rows: Any, request_id: str) -> InFlight:
    body = json.dumps({"inputs": [v2_matrix(rows)]}).encode()
    head = (
        "POST /v2/models/churn/infer HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return InFlight(sock, body[half:])


@pytest.mark.slow
def test_inference_log_holds_exactly_the_answered_requests_after_a_graceful_shutdown(
    tmp_path: Path,
) -> None:
    data = churn_data(seed=0)
    estimator = save_churn_model(tmp_path / "churn", data)
    frame = churn_data(seed=4, rows=40).frame
    log_dir = tmp_path / "inference-log"
    args = [f"churn={tmp_path / 'churn'}", "--log-sample-rate", "1", "--log-dir", str(log_dir)]
    with running_server(args, tmp_path / "logs") as server:
        sent, refused = _send_traffic(server, frame)

        last_rows = frame.iloc[30:34]
        in_flight = _start_half_request(server.port, last_rows, "in-flight-at-sigterm")
        wait_until(
            lambda: metric_total(server.get("/metrics").text, "inference_requests_in_flight") == 1,
            10,
            "the half-sent request to be in flight",
        )
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: not accepts_connections(server.port), 10, "the server to stop listening")
        status, body = in_flight.finish()
        assert status == 200, body
        assert body["id"] == "in-flight-at-sigterm"
        sent.add("in-flight-at-sigterm", last_rows, body["outputs"][0]["data"])
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM), server.log()

    for request_id, rows in sent.rows.items():
        assert sent.predictions[request_id] == estimator.predict(rows).tolist()

    segments = list((log_dir / "inference" / "churn").rglob("*.parquet"))
    assert segments
    assert not [p for p in log_dir.rglob("*") if p.name.endswith(".tmp")]
    logged = read_inference_log(log_dir).to_pandas()
    assert len(logged) == sum(len(rows) for rows in sent.rows.values()) == 29
    assert set(logged["request_id"]) == set(sent.rows)
    assert not set(refused) & set(logged["request_id"])
    assert {"client-0", "client-2", "client-4"} <= set(logged["request_id"])
    assert set(logged["model_name"]) == {"churn"}
    assert set(logged["model_version"]) == {"1"}
    assert logged["timestamp"].notna().all()
    for request_id, rows in sent.rows.items():
        mine = logged[logged["request_id"] == request_id].sort_values("row")
        assert mine["row"].tolist() == list(range(len(rows)))
        np.testing.assert_allclose(mine[FEATURES].to_numpy(dtype=float), rows.to_numpy())
        assert mine["prediction"].tolist() == sent.predictions[request_id]
    same_as_by_name = read_inference_log(log_dir, "churn").to_pandas()
    assert len(same_as_by_name) == len(logged)


@pytest.fixture
def logging_server(tmp_path: Path) -> Any:
    save_churn_model(tmp_path / "churn", churn_data(seed=0, rows=120))
    log_dir = tmp_path / "inference-log"
    args = [f"churn={tmp_path / 'churn'}", "--log-sample-rate", "1", "--log-dir", str(log_dir)]
    with running_server(args, tmp_path / "logs") as server:
        yield server, log_dir


BAD_FEEDBACK = [
    (b"", 400, "feedback"),
    (b"null", 400, "request_id"),
    (b"{}", 400, "request_id"),
    (b"[]", 400, "no feedback"),
    (b'{"request_id": 17, "label": 1}', 400, "request_id"),
    (b'{"request_id": "abc"}', 400, "label"),
    (b'{"request_id": "abc", "labels": []}', 400, "label"),
    (b'[{"request_id": "abc", "label": 1}, {"label": 0}]', 400, "request_id"),
    (b'{"request_id": "abc", "label": ', 400, "JSON"),
]


def test_feedback_by_http_and_by_the_cli_is_recorded(logging_server: Any) -> None:
    server, log_dir = logging_server
    frame = churn_data(seed=6, rows=4).frame
    ids = []
    for rows in (frame.iloc[:1], frame.iloc[1:4]):
        answer = server.post("/v2/models/churn/infer", {"inputs": [v2_matrix(rows)]})
        assert answer.status == 200
        ids.append(answer.headers["x-request-id"])

    recorded = server.post(
        "/feedback",
        [{"request_id": ids[0], "label": 1}, {"request_id": ids[1], "labels": [0, 1, 0]}],
    )
    assert recorded.status == 200, recorded.text
    assert recorded.json() == {"recorded": 2, "labels": 4}
    single = server.post("/feedback", {"request_id": "from-a-batch-job", "label": "churned"})
    assert single.status == 200 and single.json() == {"recorded": 1, "labels": 1}

    for body, status, word in BAD_FEEDBACK:
        answer = server.request(
            "POST", "/feedback", body=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status == status, (body, answer.text)
        assert word.lower() in answer.json()["error"].lower(), (body, answer.text)
    wrong_type = server.request(
        "POST", "/feedback", body=b"abc,1", headers={"Content-Type": "text/csv"}
    )
    assert wrong_type.status == 415

    cli = run_cli("feedback", ids[0], "0", "--log-dir", str(log_dir))
    assert cli.exit_code == 0, cli.output
    cli_rows = run_cli("feedback", "cli-request", "yes", "no", "--log-dir", str(log_dir), "--json")
    assert cli_rows.exit_code == 0, cli_rows.output
    assert json.loads(cli_rows.stdout) == {
        "recorded": 1,
        "labels": 2,
        "file": json.loads(cli_rows.stdout)["file"],
        "unlogged_request_ids": ["cli-request"],  # not a served request: warned about
    }
    assert "1 of 1 request id(s) are not in the inference log" in cli_rows.stderr
    missing_label = run_cli("feedback", ids[0], "--log-dir", str(log_dir))
    assert missing_label.exit_code == 2 and "label" in missing_label.stderr

    feedback = read_feedback(log_dir).to_pandas()
    got = sorted(zip(feedback["request_id"], feedback["row"], feedback["label_text"], strict=True))
    assert got == sorted(
        [
            (ids[0], 0, "1"),
            (ids[1], 0, "0"),
            (ids[1], 1, "1"),
            (ids[1], 2, "0"),
            ("from-a-batch-job", 0, "churned"),
            (ids[0], 0, "0"),
            ("cli-request", 0, "yes"),
            ("cli-request", 1, "no"),
        ]
    )
    numbers = feedback[feedback["request_id"] == ids[1]].sort_values("row")["label"].tolist()
    assert numbers == [0.0, 1.0, 0.0]
    assert feedback[feedback["request_id"] == "from-a-batch-job"]["label"].isna().all()
