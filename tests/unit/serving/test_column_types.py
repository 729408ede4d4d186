"""Column types enforced as MLflow does (only lossless conversions), KServe V2 datatypes
honoured, missing values taken only by models that handle them, and never a 500 for a value a
client sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopline.core.errors import InvalidInput
from loopline.serving.app import create_app
from loopline.serving.inputs import InputSchema
from loopline.serving.protocols._v2_datatypes import check_tensor_values
from loopline.serving.settings import ModelSpec, ServeSettings

from ._live import LiveServer
from .conftest import COLUMNS

TYPED = InputSchema.of_columns(["n", "x", "f", "b"], ["long", "double", "float", "boolean"])


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ([1.9, 1.0, 1.0, True], "takes whole numbers (long); 1.9 would lose its fraction"),
        ([1e30, 1.0, 1.0, True], "1e+30 does not fit"),
        ([1, True, 1.0, True], "column 'x' is double and takes a number, not true"),
        ([1, 1.0, 1e39, True], "column 'f' is a 32-bit float"),
        ([1, 1.0, 1.0, 1], "column 'b' is boolean and takes true or false, not 1"),
        ([None, 1.0, 1.0, True], "column 'n' has a missing value"),
    ],
)
def test_values_a_column_cannot_hold_losslessly_are_refused(row: list[Any], needle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        TYPED.from_rows([row])
    assert needle in caught.value.message


def test_whole_numbers_written_as_floats_and_booleans_are_taken() -> None:
    matrix = TYPED.from_rows([[2.0, 3, 1.5, False], [-(2**62), 0.5, -2.0, True]])
    assert matrix.tolist() == [[2.0, 3.0, 1.5, 0.0], [-(2.0**62), 0.5, -2.0, 1.0]]


def test_text_columns_take_only_text() -> None:
    schema = InputSchema.of_columns(["plan", "x"], ["string", "double"])
    with pytest.raises(InvalidInput, match="column 'plan' is string and takes text, not 42"):
        schema.from_records([{"plan": 42, "x": 1.0}])
    assert schema.from_records([{"plan": "pro", "x": 1}]).tolist() == [["pro", 1.0]]


def test_missing_values_are_taken_when_the_model_handles_them() -> None:
    schema = InputSchema.of_columns(["a", "n"], ["double", "long"], allow_nan=True)
    matrix = schema.from_rows([[None, 1], [2.0, None]])
    assert np.isnan(matrix[0, 0]) and matrix[1, 1] is None  # a missing whole number is null
    with pytest.raises(InvalidInput, match="not a finite number"):
        schema.from_rows([[float("inf"), 1]])
    optional = InputSchema.of_columns(["a", "b"], ["double", "double"], [True, False])
    assert np.isnan(optional.from_rows([[1.0, None]])[0, 1])
    with pytest.raises(InvalidInput, match="column 'a' has a missing value"):
        optional.from_rows([[None, 1.0]])


@pytest.mark.parametrize(
    ("datatype", "values", "needle"),
    [
        ("INT8", [350], "INT8, which holds whole numbers within -128..127; it has 350"),
        ("INT8", [1401.98], "it has 1401.98"),
        ("UINT16", [-1], "it has -1"),
        ("INT64", [2**63], "it has 9223372036854775808"),
        ("FP16", [70000.0], "FP16, which holds numbers within ±65504"),
        ("FP32", [1e39], "FP32"),
        ("FP64", [True], "FP64, which holds numbers; it has true"),
        ("BOOL", [1], "BOOL, which holds true or false; it has 1"),
        ("BYTES", [42], "BYTES, which holds text; it has 42"),
    ],
)
def test_v2_datatypes_hold_only_their_values(datatype: str, values: list[Any], needle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_tensor_values("x", datatype, values)
    assert needle in caught.value.message


def test_v2_values_that_fit_their_datatype_pass() -> None:
    for datatype, values in [
        ("INT8", [-128, 127, 3.0]),
        ("UINT64", [2**64 - 1]),
        ("FP32", [1.5, 2]),
        ("BOOL", [True, None]),
        ("BYTES", ["a", None]),
    ]:
        check_tensor_values("x", datatype, values)


BIG = 2**53 + 1  # the first integer float64 cannot hold: 9007199254740993


def test_whole_numbers_reach_the_model_exactly(counts_model_dir: Path) -> None:
    from loopline.serving.model import load_served_model

    model = load_served_model("counts", "1", str(counts_model_dir), counts_model_dir)
    matrix = model.schema.from_rows([[BIG, 0.5], [2**63 - 1, 1]])
    assert matrix[:, 0].tolist() == [BIG, 2**63 - 1]
    features = model._features(matrix)
    assert str(features["visits"].dtype) == "int64"
    assert features["visits"].tolist() == [BIG, 2**63 - 1]
    assert features["monthly"].tolist() == [0.5, 1.0]


def test_a_long_out_of_range_is_quoted_as_sent() -> None:
    schema = InputSchema.of_columns(["n", "x"], ["long", "double"])
    with pytest.raises(InvalidInput) as caught:
        schema.from_rows([[2**63, 1.0]])
    assert "9223372036854775808 does not fit" in caught.value.message
    assert schema.from_rows([[2**63 - 1, 1.0]])[0, 0] == 2**63 - 1


def test_float_columns_keep_the_float64_fast_path() -> None:
    schema = InputSchema.of_columns(["a", "b"], ["double", "float"])
    assert schema.from_rows([[1, 2.5]]).dtype == np.float64


@pytest.fixture
def counts_client(counts_model_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    models = (ModelSpec("counts", str(counts_model_dir)),)
    settings = ServeSettings(models=models, log_dir=str(tmp_path / "log"), log_sample_rate=1.0)
    with LiveServer(create_app(settings)) as server:
        yield server


def test_the_largest_long_is_taken_by_every_protocol_and_logged_exactly(
    counts_client: LiveServer, tmp_path: Path
) -> None:
    from loopline.serving.inference_log import read_inference_log

    top = 2**63 - 1
    sent = [
        ("/invocations", {"json": {"dataframe_split": {"columns": ["visits", "monthly"],
                                                        "data": [[top, 0.5]]}}}),
        ("/invocations", {"data": f"visits,monthly\n{BIG},0.5\n",
                          "headers": {"content-type": "text/csv"}}),
        ("/v1/models/counts:predict", {"json": {"instances": [{"visits": BIG, "monthly": 1}]}}),
        ("/v2/models/counts/infer", {"json": {"inputs": [_v2("visits", "INT64", [top]),
                                                         _v2("monthly", "FP64", [0.5])]}}),
    ]  # fmt: skip
    for path, kwargs in sent:
        reply = counts_client.post(path, **kwargs)
        assert reply.status_code == 200, (path, reply.text)
    too_big = counts_client.post(
        "/invocations", json={"dataframe_records": [{"visits": 2**63, "monthly": 1}]}
    )
    assert too_big.status_code == 400 and "9223372036854775808 does not fit" in too_big.text
    counts_client.app.inference_log.flush()
    table = read_inference_log(tmp_path / "log", "counts")
    assert str(table.schema.field("visits").type) == "int64"
    assert sorted(table.column("visits").to_pylist()) == [BIG, BIG, top, top]


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def client(
    hgb_model_dir: Path, typed_model_dir: Path, churn_model_dir: Path
) -> Iterator[LiveServer]:
    models = (
        ModelSpec("hgb", str(hgb_model_dir)),
        ModelSpec("typed", str(typed_model_dir)),
        ModelSpec("churn", str(churn_model_dir)),
    )
    with LiveServer(create_app(ServeSettings(models=models))) as server:
        yield server


def _v2(name: str, datatype: str, data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [len(data)], "data": data}


def test_a_model_that_handles_missing_values_gets_them(client: LiveServer) -> None:
    row = {c: 0.5 for c in COLUMNS} | {"tenure": None}
    mlflow = client.post("/invocations", json={"dataframe_records": [row]})
    assert mlflow.status_code == 200, mlflow.text
    inputs = [_v2(c, "FP64", [row[c]]) for c in COLUMNS]
    v2 = client.post("/v2/models/hgb/infer", json={"inputs": inputs})
    assert v2.status_code == 200, v2.text
    refused = client.post("/v2/models/churn/infer", json={"inputs": inputs})
    assert refused.status_code == 400 and "does not take missing values" in refused.text
    assert "))" not in refused.json()["error"]  # the hint's brackets are not doubled


_GOOD = {"rooms": ("INT64", [2]), "plan": ("BYTES", ["pro"]), "monthly": ("FP64", [1.0])}


@pytest.mark.parametrize(
    ("column", "datatype", "value", "needle"),
    [
        ("rooms", "INT64", 1.9, "it has 1.9"),
        ("rooms", "INT8", 350, "INT8, which holds whole numbers within -128..127; it has 350"),
        ("rooms", "INT64", 1e30, "it has 1e+30"),
        ("plan", "BYTES", 42, "it has 42"),
        ("monthly", "FP64", True, "it has true"),
        ("monthly", "INT8", 1401.98, "it has 1401.98"),
        ("rooms", "FP64", 2.0, "has datatype FP64; the model takes long (INT64)"),
    ],
)
def test_v2_values_outside_their_datatype_or_column_are_400(
    client: LiveServer, column: str, datatype: str, value: Any, needle: str
) -> None:
    tensors = _GOOD | {column: (datatype, [value])}
    inputs = [_v2(name, kind, data) for name, (kind, data) in tensors.items()]
    reply = client.post("/v2/models/typed/infer", json={"inputs": inputs})
    assert reply.status_code == 400, reply.text
    assert needle in reply.json()["error"]
    good = [_v2(name, kind, data) for name, (kind, data) in _GOOD.items()]
    assert client.post("/v2/models/typed/infer", json={"inputs": good}).status_code == 200


def test_no_value_in_any_protocol_makes_a_500(client: LiveServer) -> None:
    bodies = [
        ("/v1/models/typed:predict", {"instances": [{"rooms": 1e30, "plan": "a", "monthly": 1}]}),
        ("/v1/models/typed:predict", {"instances": [{"rooms": 1.9, "plan": "a", "monthly": 1}]}),
        ("/v1/models/typed:predict", {"instances": [{"rooms": 2, "plan": 7, "monthly": 1}]}),
        ("/v1/models/typed:predict", {"instances": [{"rooms": 2, "plan": "a", "monthly": True}]}),
        ("/v1/models/typed:predict", {"instances": [{"rooms": 2**70, "plan": "a", "monthly": 1}]}),
        ("/v1/models/churn:predict", {"instances": [[1e308, 1e308, -1e308, 1]]}),
        ("/v1/models/churn:predict", {"instances": [[[1], 2, 3, 4]]}),
    ]
    for path, body in bodies:
        reply = client.post(path, json=body)
        assert 400 <= reply.status_code < 500 or reply.status_code == 200, (body, reply.text)
    good = {"instances": [{"rooms": 2.0, "plan": "pro", "monthly": 1}]}
    assert client.post("/v1/models/typed:predict", json=good).status_code == 200
