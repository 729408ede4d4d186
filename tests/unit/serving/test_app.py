"""The inference app behind a real uvicorn server in a thread: each protocol's
happy path with predictions equal to the estimator's, and every client mistake a 4xx."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopline.serving.app import create_app
from loopline.serving.inference_log import read_feedback, read_inference_log
from loopline.serving.settings import ModelSpec, ServeSettings

from ._live import LiveServer
from .conftest import COLUMNS


@pytest.fixture
def client(churn_model_dir: Path, mixed_model_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    settings = ServeSettings(
        models=(ModelSpec("churn", str(churn_model_dir)), ModelSpec("mixed", str(mixed_model_dir))),
        max_body_bytes=20_000,
        log_sample_rate=1.0,
        log_dir=str(tmp_path / "log"),
    )
    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def rows(churn_frame: tuple) -> list[list[float]]:
    """Five customers, as rows of the four feature values."""
    return list(churn_frame[0].head(5).values.tolist())


def _expected(churn_model_dir: Path, data: list[list[float]]) -> list[int]:
    import pandas as pd

    from loopline.models.sklearn import load_from_folder

    model = load_from_folder(churn_model_dir)
    return [int(v) for v in model.predict(pd.DataFrame(data, columns=COLUMNS))]


def _columns(data: list[list[float]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "shape": [len(data)], "datatype": "FP64", "data": [r[i] for r in data]}
        for i, name in enumerate(COLUMNS)
    ]


def test_v2_infer_with_columns_or_one_matrix_predicts_as_the_estimator(
    client: LiveServer, churn_model_dir: Path, rows: list[list[float]]
) -> None:
    data = rows
    expected = _expected(churn_model_dir, data)
    matrix = {"name": "x", "shape": [len(data), 4], "datatype": "FP64", "data": data}
    for inputs in (_columns(data), [matrix]):
        reply = client.post("/v2/models/churn/infer", json={"id": "r-1", "inputs": inputs})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["model_name"] == "churn" and body["model_version"] == "1"
        assert body["id"] == "r-1"
        assert body["outputs"] == [
            {"name": "predict", "datatype": "INT64", "shape": [5], "data": expected}
        ]


def test_v2_named_outputs_return_probabilities(client: LiveServer, rows: list[list[float]]) -> None:
    request = {
        "inputs": [{"name": "x", "shape": [5, 4], "datatype": "FP64", "data": rows}],
        "outputs": [{"name": "predict_proba"}],
    }
    body = client.post("/v2/models/churn/versions/1/infer", json=request).json()
    (output,) = body["outputs"]
    assert output["name"] == "predict_proba" and output["shape"] == [5, 2]
    sums = np.asarray(output["data"]).reshape(5, 2).sum(axis=1)
    np.testing.assert_allclose(sums, 1.0)


def test_v2_bytes_column_reaches_a_model_with_a_string_feature(client: LiveServer) -> None:
    request = {
        "inputs": [
            {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["pro", "basic"]},
            {"name": "monthly", "shape": [2], "datatype": "FP64", "data": [50.0, 50.0]},
        ]
    }
    body = client.post("/v2/models/mixed/infer", json=request).json()
    assert body["outputs"][0]["data"] == [1, 0]


def test_v2_metadata_and_health(client: LiveServer) -> None:
    meta = client.get("/v2/models/churn").json()
    assert [i["name"] for i in meta["inputs"]] == COLUMNS
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/churn/ready").json()["ready"] is True
    assert client.get("/v2").json()["name"] == "loopline"


def test_tfserving_rows_objects_and_columns(
    client: LiveServer, churn_model_dir: Path, rows: list[list[float]]
) -> None:
    data = rows
    expected = _expected(churn_model_dir, data)
    objects = [dict(zip(COLUMNS, r, strict=True)) for r in data]
    columnar = {n: [r[i] for r in data] for i, n in enumerate(COLUMNS)}
    assert client.post("/v1/models/churn:predict", json={"instances": data}).json() == {
        "predictions": expected
    }
    assert client.post("/v1/models/churn:predict", json={"instances": objects}).json() == {
        "predictions": expected
    }
    assert client.post("/v1/models/churn/versions/1:predict", json={"inputs": columnar}).json() == {
        "outputs": expected
    }
    status = client.get("/v1/models/churn").json()["model_version_status"]
    assert status[0]["version"] == "1" and status[0]["state"] == "AVAILABLE"


def test_mlflow_invocations_in_every_format(
    client: LiveServer, churn_model_dir: Path, rows: list[list[float]]
) -> None:
    data = rows
    expected = {"predictions": _expected(churn_model_dir, data)}
    reversed_columns = COLUMNS[::-1]
    split = {"columns": reversed_columns, "data": [r[::-1] for r in data]}
    records = [dict(zip(COLUMNS, r, strict=True)) for r in data]
    for body in (
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": data},
        {"inputs": {n: [r[i] for r in data] for i, n in enumerate(COLUMNS)}},
    ):
        assert client.post("/invocations", json=body).json() == expected
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(data)
    reply = client.post("/invocations", data=text.getvalue(), headers={"content-type": "text/csv"})
    assert reply.json() == expected
    assert client.get("/ping").status_code == 200
    assert client.get("/version").text


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v2/models/churn/infer", {"inputs": []}, 400, "non-empty list of tensors"),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "tenure", "shape": [], "datatype": "FP64", "data": [1]}]},
            400,
            "a column is [rows] or [rows, 1]",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": ["x"], "shape": [1, 4], "datatype": "FP64", "data": [1] * 4}]},
            400,
            "name must be a non-empty string",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": ["FP64"], "data": [1] * 4}]},
            400,
            "datatype",
        ),
        ("/invocations", {"dataframe_split": {"columns": 5, "data": [[1]]}}, 400, "column names"),
        (
            "/invocations",
            {"dataframe_split": {"columns": [["a"], "b"], "data": [[1, 2]]}},
            400,
            "column names",
        ),
        (
            "/v1/models/mixed:predict",
            {"instances": [{"plan": "pro", "monthly": None}]},
            400,
            "column 'monthly' has a missing value",
        ),
        (
            "/v1/models/mixed:predict",
            {"instances": [{"plan": "pro", "monthly": "cheap"}]},
            400,
            "is double and takes a number",
        ),
        ("/v2/models/churn/infer", {"inputs": _columns([[1, 2, 3, 4]])[:3]}, 400, "missing column"),
        (
            "/v2/models/churn/infer",
            {
                "inputs": [
                    *_columns([[1, 2, 3, 4]]),
                    {"name": "zip", "shape": [1], "datatype": "FP64", "data": [1]},
                ]
            },
            400,
            "unknown input(s) zip",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            400,
            "each row must have 4 values",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]},
            400,
            "needs 8",
        ),
        (
            "/v2/models/mixed/infer",
            {
                "inputs": [
                    {"name": "plan", "shape": [1], "datatype": "FP64", "data": [1]},
                    {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [1]},
                ]
            },
            400,
            "input 'plan' has datatype FP64; the model takes string",
        ),
        ("/v2/models/churn/infer", {"inputs": [{"name": "x"}]}, 400, "lacks shape, datatype, data"),
        ("/v2/models/nope/infer", {"inputs": []}, 404, "no model named 'nope'"),
        ("/v2/models/churn/versions/7/infer", {"inputs": []}, 404, "no version '7'"),
        ("/v1/models/churn:predict", {"instances": [[1, 2]]}, 400, "each row must have 4 values"),
        ("/v1/models/churn:predict", {"rows": [[1, 2]]}, 400, 'exactly one of "instances"'),
        ("/invocations", {"dataframe_records": [{"tenure": 1}]}, 400, "missing column"),
        ("/invocations", {"data": [[1]]}, 400, "exactly one of dataframe_split"),
        (
            "/v2/models/churn/infer",
            {
                "inputs": [
                    {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, None, 3, 4]}
                ]
            },
            400,
            "missing value",
        ),
    ],
)
def test_client_mistakes_are_4xx_that_name_the_problem(
    client: LiveServer, path: str, body: Any, status: int, needle: str
) -> None:
    reply = client.post(path, json=body)
    assert reply.status_code == status, reply.text
    text = reply.json().get("error") or reply.json().get("message")
    assert needle in text


def test_transport_mistakes(client: LiveServer) -> None:
    bad_json = client.post(
        "/v2/models/churn/infer", data=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]
    wrong_type = client.post(
        "/v2/models/churn/infer", data=b"x", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    too_big = client.post("/v2/models/churn/infer", data=b"x" * 30_000)
    assert too_big.status_code == 413
    assert client.get("/v2/models/churn/infer").status_code == 405
    assert client.get("/v2/models/churn/infer").headers["allow"] == "POST"
    assert client.get("/nowhere").status_code == 404
    mlflow_error = client.post(
        "/invocations", data=b"[1]", headers={"content-type": "application/json"}
    )
    assert mlflow_error.json()["error_code"] == "BAD_REQUEST"


def test_request_ids_reach_the_inference_log_and_feedback(
    client: LiveServer, tmp_path: Path, rows: list[list[float]]
) -> None:
    data = rows[:2]
    given = client.post(
        "/v1/models/churn:predict", json={"instances": data}, headers={"x-request-id": "abc-1"}
    )
    assert given.headers["x-request-id"] == "abc-1"
    made = client.post("/v1/models/churn:predict", json={"instances": data[:1]})
    generated = made.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]+", generated)  # unique per process and request
    probabilities_only = {
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": data[0]}],
        "outputs": [{"name": "predict_proba"}],
    }
    client.post("/v2/models/churn/infer", json=probabilities_only, headers={"x-request-id": "p-1"})
    reply = client.post(
        "/feedback",
        json=[{"request_id": "abc-1", "labels": [1, 0]}, {"request_id": generated, "label": 1}],
    )
    assert reply.json() == {"recorded": 2, "labels": 3}
    assert client.post("/feedback", json={"label": 1}).status_code == 400
    for bad in (
        {"request_id": "", "label": 1},
        {"request_id": "x" * 200, "label": 1},
        {"request_id": "a\nb", "label": 1},
        {"request_id": "abc-1", "label": {"nested": 1}},
    ):
        assert client.post("/feedback", json=bad).status_code == 400, bad
    client.app.inference_log.flush()  # type: ignore[attr-defined]
    logged = read_inference_log(tmp_path / "log", "churn").to_pydict()
    assert logged["request_id"] == ["abc-1", "abc-1", generated, "p-1"]
    assert logged["row"] == [0, 1, 0, 0]
    assert logged["tenure"] == [data[0][0], data[1][0], data[0][0], data[0][0]]
    assert logged["model_version"] == ["1"] * 4
    assert logged["prediction"][3] in (
        0,
        1,
    )  # logged even though the client asked for probabilities
    feedback = read_feedback(tmp_path / "log").to_pydict()
    assert feedback["request_id"] == ["abc-1", "abc-1", generated]
    assert feedback["label"] == [1.0, 0.0, 1.0]


def test_metrics_count_predictions_by_class_and_requests_by_code(
    client: LiveServer, rows: list[list[float]]
) -> None:
    client.post("/v1/models/churn:predict", json={"instances": rows})
    client.post("/v1/models/churn:predict", json={"instances": [[1]]})
    text = client.get("/metrics").text
    predicted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('model_predictions_total{model_name="churn"')
    )
    assert predicted == 5
    assert (
        'inference_requests_total{code="400",model_name="churn",protocol="tfserving"} 1.0' in text
    )
    assert 'prediction_latency_seconds_count{model_name="churn",model_version="1"} 1.0' in text


def test_a_body_id_that_is_not_header_safe_stays_in_the_body(client: LiveServer) -> None:
    request = {
        "id": "abc\n",
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],
    }
    reply = client.post("/v2/models/churn/infer", json=request)
    assert reply.status_code == 200
    assert reply.json()["id"] == "abc\n"
    assert "\n" not in reply.headers["x-request-id"]


def test_csv_from_a_spreadsheet_with_a_byte_order_mark_is_read(
    client: LiveServer, churn_model_dir: Path, rows: list[list[float]]
) -> None:
    text = ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
    reply = client.post(
        "/invocations", data=("\ufeff" + text).encode(), headers={"content-type": "text/csv"}
    )
    assert reply.json() == {"predictions": _expected(churn_model_dir, rows)}
    infinite = ",".join(COLUMNS) + "\ninf,1,1,1\n"
    refused = client.post("/invocations", data=infinite, headers={"content-type": "text/csv"})
    assert refused.status_code == 400 and "not a finite number" in refused.json()["message"]


def test_feedback_warns_about_label_counts_refuses_unknown_fields_and_stores_booleans_as_1_0(
    client: LiveServer, tmp_path: Path, rows: list[list[float]]
) -> None:
    client.post(
        "/v1/models/churn:predict", json={"instances": rows[:3]}, headers={"x-request-id": "t-3"}
    )
    client.app.inference_log.flush()  # type: ignore[attr-defined]
    short = client.post("/feedback", json={"request_id": "t-3", "labels": [True, False]})
    assert short.status_code == 200, short.text
    assert short.json()["warnings"] == [
        "request t-3 has 3 row(s) in the inference log but 2 label(s) were given; "
        "give one label per row"
    ]
    exact = client.post("/feedback", json={"request_id": "t-3", "labels": [1, 0, 1]})
    assert exact.json() == {"recorded": 1, "labels": 3}
    extra = client.post("/feedback", json={"request_id": "t-3", "label": 1, "row": 2})
    assert extra.status_code == 400 and "unknown field(s) row" in extra.json()["error"]
    feedback = read_feedback(tmp_path / "log").to_pydict()
    assert feedback["label"][:2] == [1.0, 0.0]
    assert feedback["label_text"][:2] == ["1", "0"]
