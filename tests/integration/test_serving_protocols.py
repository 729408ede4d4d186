"""Protocol conformance of `loopline serve`: KServe V2, TF-Serving REST and MLflow /invocations,
driven by tables of request -> expected answer, plus an unmodified KServe V2 client.

One server serves a 20-column numeric classifier (``churn``) and a pipeline with a one-hot
encoded string column (``mixed``); every prediction is compared with the estimator's own.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration._serving import (
    FEATURES,
    Answer,
    ChurnData,
    ModelServer,
    churn_data,
    mixed_data,
    running_server,
    save_churn_model,
    save_mixed_model,
    v2_columns,
    v2_matrix,
)

MAX_BODY_MB = 0.05  # 52,428 bytes: small enough to test 413, big enough for every valid case
ROWS = 6


@dataclass(frozen=True)
class Sample:
    """The rows every request sends and what the estimators themselves say about them."""

    churn: Any  # DataFrame, FEATURES
    churn_predict: list[int]
    churn_proba: np.ndarray
    mixed: Any  # DataFrame, plan (string) + numbers
    mixed_predict: list[int]


@dataclass(frozen=True)
class Served:
    server: ModelServer
    sample: Sample
    folder: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("protocols")
    churn: ChurnData = churn_data(seed=0)
    churn_estimator = save_churn_model(root / "churn", churn)
    mixed = mixed_data()
    mixed_estimator = save_mixed_model(root / "mixed", mixed)
    rows = churn_data(seed=1, rows=ROWS).frame  # rows the model has not seen
    mixed_rows = mixed.frame.tail(ROWS).reset_index(drop=True)
    sample = Sample(
        churn=rows,
        churn_predict=churn_estimator.predict(rows).tolist(),
        churn_proba=churn_estimator.predict_proba(rows),
        mixed=mixed_rows,
        mixed_predict=mixed_estimator.predict(mixed_rows).tolist(),
    )
    args = [
        f"churn={root / 'churn'}",
        f"mixed={root / 'mixed'}",
        "--max-body-mb",
        str(MAX_BODY_MB),
    ]
    with running_server(args, root / "logs") as server:
        yield Served(server, sample, root)


# -- the tables --------------------------------------------------------------------------------

Body = Callable[[Sample], Any]  # a JSON-able object, or bytes sent as they are


@dataclass(frozen=True)
class Predicts:
    """A request that must succeed with the estimator's predictions."""

    id: str
    path: str
    body: Body
    predictions: Callable[[Any], list[Any]]  # where the predictions are in the reply
    expected: Callable[[Sample], list[Any]] = lambda s: s.churn_predict
    content_type: str = "application/json"


def _v2_predict(reply: Any) -> list[Any]:
    assert reply["model_version"] == "1"
    (output,) = reply["outputs"]
    assert output["name"] == "predict"
    assert output["shape"] == [ROWS]
    return list(output["data"])


def _key(name: str) -> Callable[[Any], list[Any]]:
    return lambda reply: list(reply[name])


def _split(frame: Any) -> dict[str, Any]:
    return {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}


def _csv(frame: Any) -> bytes:
    return frame.to_csv(index=False).encode()


def _reversed(frame: Any) -> Any:
    return frame[list(reversed(frame.columns))]


PREDICTS = [
    Predicts(
        "v2-one-tensor-per-column",
        "/v2/models/churn/infer",
        lambda s: {"inputs": v2_columns(s.churn)},
        _v2_predict,
    ),
    Predicts(
        "v2-columns-in-another-order",
        "/v2/models/churn/infer",
        lambda s: {"inputs": v2_columns(_reversed(s.churn))},
        _v2_predict,
    ),
    Predicts(
        "v2-columns-as-rows-by-1",
        "/v2/models/churn/infer",
        lambda s: {
            "inputs": [
                {**t, "shape": [ROWS, 1], "data": [[v] for v in t["data"]]}
                for t in v2_columns(s.churn)
            ]
        },
        _v2_predict,
    ),
    Predicts(
        "v2-one-matrix-tensor",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)]},
        _v2_predict,
    ),
    Predicts(
        "v2-matrix-nested-rows-fp32",
        "/v2/models/churn/infer",
        lambda s: {
            "inputs": [
                {
                    "name": "x",
                    "shape": [ROWS, len(FEATURES)],
                    "datatype": "FP32",
                    "data": s.churn.to_numpy().astype(np.float32).astype(float).tolist(),
                }
            ]
        },
        _v2_predict,
        lambda s: s.churn_predict,
    ),
    Predicts(
        "v2-version-path",
        "/v2/models/churn/versions/1/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)]},
        _v2_predict,
    ),
    Predicts(
        "v2-bytes-column-of-a-string-model",
        "/v2/models/mixed/infer",
        lambda s: {"inputs": v2_columns(s.mixed)},
        _v2_predict,
        lambda s: s.mixed_predict,
    ),
    Predicts(
        "tfserving-instances-rows",
        "/v1/models/churn:predict",
        lambda s: {"instances": s.churn.to_numpy().tolist()},
        _key("predictions"),
    ),
    Predicts(
        "tfserving-instances-objects",
        "/v1/models/churn:predict",
        lambda s: {"instances": s.churn.to_dict(orient="records")},
        _key("predictions"),
    ),
    Predicts(
        "tfserving-inputs-columnar",
        "/v1/models/churn:predict",
        lambda s: {"inputs": s.churn.to_dict(orient="list")},
        _key("outputs"),
    ),
    Predicts(
        "tfserving-version-path",
        "/v1/models/churn/versions/1:predict",
        lambda s: {"instances": s.churn.to_numpy().tolist()},
        _key("predictions"),
    ),
    Predicts(
        "tfserving-objects-with-a-string-column",
        "/v1/models/mixed:predict",
        lambda s: {"instances": s.mixed.to_dict(orient="records")},
        _key("predictions"),
        lambda s: s.mixed_predict,
    ),
    Predicts(
        "mlflow-dataframe-split",
        "/invocations",
        lambda s: {"dataframe_split": _split(s.churn)},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-dataframe-split-columns-reordered",
        "/invocations",
        lambda s: {"dataframe_split": _split(_reversed(s.churn))},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-dataframe-records",
        "/invocations",
        lambda s: {"dataframe_records": s.churn.to_dict(orient="records")},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-instances",
        "/invocations",
        lambda s: {"instances": s.churn.to_dict(orient="records")},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-instances-rows",
        "/invocations",
        lambda s: {"instances": s.churn.to_numpy().tolist()},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-inputs-columnar",
        "/invocations",
        lambda s: {"inputs": s.churn.to_dict(orient="list")},
        _key("predictions"),
    ),
    Predicts(
        "mlflow-csv",
        "/invocations",
        lambda s: _csv(s.churn),
        _key("predictions"),
        content_type="text/csv",
    ),
    Predicts(
        "mlflow-csv-with-charset",
        "/invocations",
        lambda s: _csv(s.churn),
        _key("predictions"),
        content_type="text/csv; charset=utf-8",
    ),
]


@dataclass(frozen=True)
class Refused:
    """A request that must be refused with ``status`` and a message naming the problem."""

    id: str
    method: str
    path: str
    body: Body | None
    status: int
    names: tuple[str, ...]  # words the error message must contain
    content_type: str = "application/json"


def _drop(frame: Any, column: str) -> Any:
    return frame.drop(columns=[column])


def _with_extra(frame: Any) -> Any:
    return frame.assign(shoe_size=42.0)


def _v2_bytes_for(column: str) -> Body:
    return lambda s: {"inputs": v2_columns(s.churn, {column: "BYTES"})}


def _oversize(s: Sample) -> bytes:
    rows = [s.churn.to_numpy().tolist()[0]] * 400  # ~160 kB of JSON
    return json.dumps({"instances": rows}).encode()


_MATRIX_19 = lambda s: {"inputs": [v2_matrix(_drop(s.churn, "age"))]}  # noqa: E731
_BAD_SHAPE = lambda s: {"inputs": [{**v2_matrix(s.churn), "shape": [ROWS + 1, 20]}]}  # noqa: E731

REFUSED = [
    # the request's content: columns, types, shapes
    Refused(
        "v2-missing-column",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": v2_columns(_drop(s.churn, "age"))},
        400,
        ("missing", "age"),
    ),
    Refused(
        "v2-extra-column",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": v2_columns(_with_extra(s.churn))},
        400,
        ("shoe_size",),
    ),
    Refused(
        "v2-bytes-for-a-number-column",
        "POST",
        "/v2/models/churn/infer",
        _v2_bytes_for("tenure_months"),
        400,
        ("tenure_months", "BYTES"),
    ),
    Refused(
        "v2-number-for-the-string-column",
        "POST",
        "/v2/models/mixed/infer",
        lambda s: {"inputs": v2_columns(s.mixed, {"plan": "FP64"})},
        400,
        ("plan", "FP64"),
    ),
    Refused(
        "v2-unknown-datatype",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [{**v2_matrix(s.churn), "datatype": "FLOAT"}]},
        400,
        ("FLOAT",),
    ),
    Refused(
        "v2-text-in-a-number-tensor",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [{**v2_matrix(s.churn), "data": ["a"] * (ROWS * 20)}]},
        400,
        ("number",),
    ),
    Refused(
        "v2-matrix-of-19-columns",
        "POST",
        "/v2/models/churn/infer",
        _MATRIX_19,
        400,
        ("20",),
    ),
    Refused(
        "v2-shape-disagrees-with-data",
        "POST",
        "/v2/models/churn/infer",
        _BAD_SHAPE,
        400,
        ("shape", str(ROWS * 20)),
    ),
    Refused(
        "v2-column-tensor-of-rank-3",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [{**t, "shape": [ROWS, 1, 1]} for t in v2_columns(s.churn)]},
        400,
        ("shape",),
    ),
    Refused(
        "v2-unknown-output",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)], "outputs": [{"name": "decision_function"}]},
        400,
        ("decision_function",),
    ),
    Refused(
        "v2-no-inputs",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": []},
        400,
        ("inputs",),
    ),
    Refused(
        "v2-null-value",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [{**v2_matrix(s.churn), "data": [None] + [0.0] * (ROWS * 20 - 1)}]},
        400,
        ("missing value",),
    ),
    Refused(
        "tfserving-row-of-19-values",
        "POST",
        "/v1/models/churn:predict",
        lambda s: {"instances": _drop(s.churn, "age").to_numpy().tolist()},
        400,
        ("20 values",),
    ),
    Refused(
        "tfserving-object-missing-a-column",
        "POST",
        "/v1/models/churn:predict",
        lambda s: {"instances": _drop(s.churn, "age").to_dict(orient="records")},
        400,
        ("missing", "age"),
    ),
    Refused(
        "tfserving-both-instances-and-inputs",
        "POST",
        "/v1/models/churn:predict",
        lambda s: {"instances": [[0.0] * 20], "inputs": [[0.0] * 20]},
        400,
        ("instances", "inputs"),
    ),
    Refused(
        "mlflow-split-missing-column",
        "POST",
        "/invocations",
        lambda s: {"dataframe_split": _split(_drop(s.churn, "age"))},
        400,
        ("missing", "age"),
    ),
    Refused(
        "mlflow-records-extra-column",
        "POST",
        "/invocations",
        lambda s: {"dataframe_records": _with_extra(s.churn).to_dict(orient="records")},
        400,
        ("shoe_size",),
    ),
    Refused(
        "mlflow-no-known-format",
        "POST",
        "/invocations",
        lambda s: {"data": [[0.0] * 20]},
        400,
        ("dataframe_split", "instances"),
    ),
    Refused(
        "mlflow-csv-with-text-in-numbers",
        "POST",
        "/invocations",
        lambda s: _csv(s.churn.astype(object).assign(age="old")),
        400,
        ("number",),
        "text/csv",
    ),
    # the body's encoding
    Refused(
        "v2-malformed-json",
        "POST",
        "/v2/models/churn/infer",
        lambda s: b'{"inputs": [',
        400,
        ("JSON",),
    ),
    Refused(
        "tfserving-malformed-json",
        "POST",
        "/v1/models/churn:predict",
        lambda s: b"{instances: 1}",
        400,
        ("JSON",),
    ),
    Refused(
        "mlflow-malformed-json",
        "POST",
        "/invocations",
        lambda s: b'{"dataframe_split": {"data": [[1, 2]',
        400,
        ("JSON",),
    ),
    Refused(
        "v2-json-array-not-object",
        "POST",
        "/v2/models/churn/infer",
        lambda s: [1, 2, 3],
        400,
        ("object",),
    ),
    Refused(
        "v2-empty-body",
        "POST",
        "/v2/models/churn/infer",
        lambda s: b"",
        400,
        ("empty",),
    ),
    Refused(
        "v2-text-plain",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)]},
        415,
        ("text/plain", "application/json"),
        "text/plain",
    ),
    Refused(
        "tfserving-form-encoded",
        "POST",
        "/v1/models/churn:predict",
        lambda s: b"instances=1",
        415,
        ("application/x-www-form-urlencoded",),
        "application/x-www-form-urlencoded",
    ),
    Refused(
        "mlflow-xml",
        "POST",
        "/invocations",
        lambda s: b"<rows/>",
        415,
        ("application/xml", "text/csv"),
        "application/xml",
    ),
    Refused(
        "v2-over-size-body",
        "POST",
        "/v2/models/churn/infer",
        lambda s: json.dumps({"inputs": [v2_matrix(s.churn.sample(400, replace=True))]}).encode(),
        413,
        ("limit",),
    ),
    Refused(
        "tfserving-over-size-body", "POST", "/v1/models/churn:predict", _oversize, 413, ("limit",)
    ),
    Refused("mlflow-over-size-body", "POST", "/invocations", _oversize, 413, ("limit",)),
    # what the request is addressed to
    Refused(
        "v2-unknown-model",
        "POST",
        "/v2/models/fraud/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)]},
        404,
        ("fraud",),
    ),
    Refused(
        "v2-unknown-version",
        "POST",
        "/v2/models/churn/versions/9/infer",
        lambda s: {"inputs": [v2_matrix(s.churn)]},
        404,
        ("9",),
    ),
    Refused("v2-metadata-unknown-model", "GET", "/v2/models/fraud", None, 404, ("fraud",)),
    Refused("v2-ready-unknown-model", "GET", "/v2/models/fraud/ready", None, 404, ("fraud",)),
    Refused("v2-metadata-unknown-version", "GET", "/v2/models/churn/versions/9", None, 404, ("9",)),
    Refused(
        "tfserving-unknown-model",
        "POST",
        "/v1/models/fraud:predict",
        lambda s: {"instances": [[0.0] * 20]},
        404,
        ("fraud",),
    ),
    Refused(
        "tfserving-unknown-version",
        "POST",
        "/v1/models/churn/versions/9:predict",
        lambda s: {"instances": [[0.0] * 20]},
        404,
        ("9",),
    ),
    Refused("tfserving-status-unknown-model", "GET", "/v1/models/fraud", None, 404, ("fraud",)),
    Refused("no-such-endpoint", "GET", "/v3/models", None, 404, ("/v3/models",)),
    # the method
    Refused("v2-infer-by-get", "GET", "/v2/models/churn/infer", None, 405, ("POST",)),
    Refused("v2-metadata-by-post", "POST", "/v2/models/churn", lambda s: {}, 405, ("GET",)),
    Refused("v2-live-by-post", "POST", "/v2/health/live", lambda s: {}, 405, ("GET",)),
    Refused("tfserving-predict-by-get", "GET", "/v1/models/churn:predict", None, 405, ("POST",)),
    Refused("tfserving-status-by-delete", "DELETE", "/v1/models/churn", None, 405, ("GET",)),
    Refused("mlflow-invocations-by-get", "GET", "/invocations", None, 405, ("POST",)),
    Refused("metrics-by-post", "POST", "/metrics", lambda s: {}, 405, ("GET",)),
    Refused("feedback-by-get", "GET", "/feedback", None, 405, ("POST",)),
]


# Regression cases: each once answered wrongly (a 500, or a message naming the wrong key).
REFUSED_REGRESSIONS = [
    Refused(
        "v2-boolean-in-shape",
        "POST",
        "/v2/models/churn/infer",
        lambda s: {"inputs": [{**v2_matrix(s.churn.iloc[:1]), "shape": [True, 20]}]},
        400,
        ("shape",),
    ),
    Refused(
        "tfserving-inputs-not-a-list",
        "POST",
        "/v1/models/churn:predict",
        lambda s: {"inputs": "tenure_months"},
        400,
        ('"inputs"',),
    ),
]


def _encode(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


def _send(served: Served, method: str, path: str, body: Body | None, content_type: str) -> Answer:
    payload = _encode(body(served.sample)) if body is not None else None
    headers = {"Content-Type": content_type} if payload is not None else {}
    return served.server.request(method, path, body=payload, headers=headers)


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PREDICTS, ids=lambda c: c.id)
def test_protocol_request_predicts_as_the_estimator(served: Served, case: Predicts) -> None:
    answer = _send(served, "POST", case.path, case.body, case.content_type)
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers.get("x-request-id")
    assert case.predictions(answer.json()) == case.expected(served.sample)


@pytest.mark.parametrize("case", [*REFUSED, *REFUSED_REGRESSIONS], ids=lambda c: c.id)
def test_protocol_refuses_a_bad_request_with_a_4xx_naming_the_problem(
    served: Served, case: Refused
) -> None:
    answer = _send(served, case.method, case.path, case.body, case.content_type)
    assert answer.status == case.status, f"{answer.status}: {answer.text}"
    reply = answer.json()
    message = reply.get("error") or reply.get("message") or ""
    for word in case.names:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    if case.status == 405:
        assert case.names[0] in answer.headers.get("allow", "")


def test_v2_named_output_and_request_id_are_honoured(served: Served) -> None:
    sample = served.sample
    body = {
        "id": "order-7731",
        "inputs": [v2_matrix(sample.churn)],
        "outputs": [{"name": "predict_proba"}, {"name": "predict"}],
    }
    answer = served.server.post("/v2/models/churn/infer", body)
    assert answer.status == 200, answer.text
    reply = answer.json()
    assert reply["id"] == "order-7731"
    assert reply["model_name"] == "churn"
    assert [o["name"] for o in reply["outputs"]] == ["predict_proba", "predict"]
    proba, predict = reply["outputs"]
    assert proba["datatype"] == "FP64"
    assert proba["shape"] == [ROWS, 2]
    np.testing.assert_allclose(
        np.asarray(proba["data"]).reshape(ROWS, 2), sample.churn_proba, rtol=1e-9
    )
    assert predict["data"] == sample.churn_predict


def test_request_id_header_is_echoed_or_made_up(served: Served) -> None:
    body = {"inputs": [v2_matrix(served.sample.churn)]}
    given = served.server.post("/v2/models/churn/infer", body, {"X-Request-ID": "trace-1.2:3"})
    assert given.headers["x-request-id"] == "trace-1.2:3"
    assert given.json()["id"] == "trace-1.2:3"
    made = {
        served.server.post("/v2/models/churn/infer", body).headers["x-request-id"] for _ in "ab"
    }
    assert len(made) == 2 and all(len(rid) >= 16 for rid in made)
    refused = served.server.post("/v2/models/churn/infer", {"inputs": []})
    assert refused.status == 400 and refused.headers.get("x-request-id")


def test_health_and_metadata_endpoints(served: Served) -> None:
    server = served.server
    assert server.get("/v2/health/live").json() == {"live": True}
    assert server.get("/v2/health/ready").json() == {"ready": True}
    assert server.get("/v2/models/churn/ready").json()["ready"] is True
    assert server.get("/ping").status == 200
    assert server.get("/health").status == 200
    version = server.get("/version")
    assert version.status == 200 and version.text.strip()
    meta = server.get("/v2").json()
    assert meta["name"] and meta["version"] == version.text.strip()

    churn = server.get("/v2/models/churn").json()
    assert churn["name"] == "churn" and churn["versions"] == ["1"]
    assert [i["name"] for i in churn["inputs"]] == FEATURES
    assert {i["datatype"] for i in churn["inputs"]} == {"FP64"}
    assert {o["name"]: o["shape"] for o in churn["outputs"]} == {
        "predict": [-1],
        "predict_proba": [-1, 2],
    }
    assert server.get("/v2/models/churn/versions/1").json()["name"] == "churn"
    mixed = server.get("/v2/models/mixed").json()
    assert {i["name"]: i["datatype"] for i in mixed["inputs"]} == {
        "plan": "BYTES",
        "monthly_charges": "FP64",
        "support_calls": "FP64",
    }


def test_tfserving_status_document(served: Served) -> None:
    status = served.server.get("/v1/models/churn").json()
    assert status == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    one = served.server.get("/v1/models/churn/versions/1").json()
    assert [s["version"] for s in one["model_version_status"]] == ["1"]


# -- an unmodified KServe V2 client ------------------------------------------------------------


def test_tritonclient_speaks_to_the_server_unmodified(served: Served) -> None:
    import tritonclient.http as triton

    sample = served.sample
    client = triton.InferenceServerClient(f"127.0.0.1:{served.server.port}")
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("churn")
        metadata = client.get_model_metadata("churn")
        assert metadata["name"] == "churn"
        assert [i["name"] for i in metadata["inputs"]] == FEATURES

        matrix = triton.InferInput("input-0", [ROWS, len(FEATURES)], "FP64")
        matrix.set_data_from_numpy(sample.churn.to_numpy(dtype=np.float64), binary_data=False)
        result = client.infer(
            "churn",
            [matrix],
            outputs=[
                triton.InferRequestedOutput("predict", binary_data=False),
                triton.InferRequestedOutput("predict_proba", binary_data=False),
            ],
            request_id="triton-1",
        )
        assert result.as_numpy("predict").tolist() == sample.churn_predict
        np.testing.assert_allclose(result.as_numpy("predict_proba"), sample.churn_proba)
        assert result.get_response()["id"] == "triton-1"

        columns = []
        for name in sample.mixed.columns:
            values = sample.mixed[name].to_numpy()
            is_text = values.dtype == object
            column = triton.InferInput(name, [ROWS], "BYTES" if is_text else "FP64")
            column.set_data_from_numpy(
                values.astype(object if is_text else np.float64), binary_data=False
            )
            columns.append(column)
        mixed = client.infer(
            "mixed", columns, outputs=[triton.InferRequestedOutput("predict", binary_data=False)]
        )
        assert mixed.as_numpy("predict").tolist() == sample.mixed_predict
    finally:
        client.close()


def test_tritonclient_sees_server_errors_as_exceptions(served: Served) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(f"127.0.0.1:{served.server.port}")
    try:
        narrow = triton.InferInput("input-0", [2, 19], "FP64")
        narrow.set_data_from_numpy(np.zeros((2, 19)), binary_data=False)
        with pytest.raises(InferenceServerException, match="20"):
            client.infer("churn", [narrow])
        assert not client.is_model_ready("fraud")
    finally:
        client.close()


def test_paths_that_only_look_like_model_routes_are_404(served: Served) -> None:
    """A path that only looks like a model route is not one (no prefix or traversal tricks)."""
    for path in ("/v2/models/churn/infer/extra", "/v2/models/churn/versions/", "/v2/models/"):
        answer = served.server.request("POST", path, body=b"{}")
        assert answer.status == 404, (path, answer.text)


def test_a_request_id_from_the_body_never_breaks_the_response_headers(served: Served) -> None:
    body = {"id": "abc\r\nSet-Cookie: token=1", "inputs": [v2_matrix(served.sample.churn)]}
    answer = served.server.post("/v2/models/churn/infer", body)
    assert answer.status == 200
    assert answer.json()["id"] == body["id"]  # the V2 id is echoed in the body as given
    assert "set-cookie" not in answer.headers
    assert "\r" not in answer.headers["x-request-id"]


def _chunks(payload: bytes, padding: int) -> Iterator[bytes]:
    for _ in range(padding):
        yield b" " * 1000  # JSON allows leading white space
    yield payload


@pytest.mark.parametrize(("padding", "status"), [(3, 200), (80, 413)], ids=["small", "over-size"])
def test_a_chunked_body_is_read_and_its_size_limited(
    served: Served, padding: int, status: int
) -> None:
    payload = json.dumps({"inputs": [v2_matrix(served.sample.churn)]}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=15)
    try:
        conn.request(
            "POST",
            "/v2/models/churn/infer",
            body=_chunks(payload, padding),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        reply = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == status, reply
    if status == 200:
        assert reply["outputs"][0]["data"] == served.sample.churn_predict
    else:
        assert "limit" in reply["error"]


def test_concurrent_requests_each_get_their_own_predictions(served: Served) -> None:
    """Requests answered together in one batch must each get back the rows they sent."""
    frame = churn_data(seed=21, rows=120).frame
    estimator_proba = _churn_estimator_proba(served, frame)

    def one(index: int) -> None:
        start, size = (index * 7) % 110, 1 + index % 7
        rows = frame.iloc[start : start + size]
        expected = estimator_proba[start : start + size]
        if index % 3 == 0:
            body = {"inputs": [v2_matrix(rows)], "outputs": [{"name": "predict_proba"}]}
            answer = served.server.post("/v2/models/churn/infer", body)
            got = np.asarray(answer.json()["outputs"][0]["data"]).reshape(size, 2)
            np.testing.assert_allclose(got, expected, rtol=1e-9)
        elif index % 3 == 1:
            answer = served.server.post(
                "/v1/models/churn:predict", {"instances": rows.to_numpy().tolist()}
            )
            assert answer.json()["predictions"] == expected.argmax(axis=1).tolist()
        else:
            split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
            answer = served.server.post("/invocations", {"dataframe_split": split})
            assert answer.json()["predictions"] == expected.argmax(axis=1).tolist()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(160)))


def _churn_estimator_proba(served: Served, frame: Any) -> np.ndarray:
    """The served model's probabilities for ``frame``, from the model folder loaded here."""
    from loopline.models.sklearn import load_from_folder

    estimator = load_from_folder(served.folder / "churn")
    return np.asarray(estimator.predict_proba(frame))
