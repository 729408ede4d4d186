"""MLflow's scoring protocol (``POST /invocations``): JSON with one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs``, or CSV with a header row."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.serving.inputs import InputSchema
from loopline.serving.model import ServedModel
from loopline.serving.protocols import Decoded
from loopline.serving.protocols._json import dumps, loads_object

__all__ = ["CONTENT_TYPES", "decode_invocations", "encode_invocations"]

CONTENT_TYPES = ("application/json", "text/csv")
_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_MISSING = frozenset({"", "NaN", "nan", "NA", "null"})  # as pandas reads CSV
_BOOLEANS = {"true": True, "false": False}


def decode_invocations(body: bytes, content_type: str, model: ServedModel) -> Decoded:
    if content_type == "text/csv":
        return Decoded(_from_csv(body, model.schema))
    request = loads_object(body)
    given = [key for key in _FORMATS if key in request]
    if len(given) != 1:
        raise InvalidInput(
            "the request needs exactly one of " + ", ".join(_FORMATS),
            hint='e.g. {"dataframe_split": {"columns": [...], "data": [[...]]}}',
        )
    key = given[0]
    payload = request[key]
    schema = model.schema
    if key == "dataframe_split":
        return Decoded(_from_split(payload, schema))
    if key == "dataframe_records":
        return Decoded(schema.from_records(payload))
    if isinstance(payload, dict):
        return Decoded(schema.from_columns(payload))
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return Decoded(schema.from_records(payload))
    return Decoded(schema.from_rows(payload))


def encode_invocations(outputs: dict[str, np.ndarray]) -> bytes:
    return dumps({"predictions": outputs["predict"]})


def _from_split(payload: Any, schema: InputSchema) -> np.ndarray:
    if not isinstance(payload, dict) or "data" not in payload:
        raise InvalidInput('"dataframe_split" needs "data" (and usually "columns")')
    columns, data = payload.get("columns"), payload["data"]
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise InvalidInput('"columns" must be a list of column names')
    if columns is None or tuple(columns) == schema.names:
        return schema.from_rows(data)
    if len(set(columns)) != len(columns):
        raise InvalidInput('"columns" names a column more than once')
    if not isinstance(data, list) or not data:
        raise InvalidInput('"data" must be a non-empty list of rows')
    if any(not isinstance(row, list) or len(row) != len(columns) for row in data):
        raise InvalidInput(f'every row of "data" must have {len(columns)} values, as columns')
    return schema.from_columns(
        {name: list(col) for name, col in zip(columns, zip(*data, strict=True), strict=True)}
    )


def _numbers_from_text(header: list[str], rows: list[list[str]], schema: InputSchema) -> list[Any]:
    """CSV cells are text: turn those of numeric columns into numbers (``true``/``false`` for a
    boolean column; an empty cell or ``NaN`` is a missing value), naming a bad cell."""
    kinds = {
        i: schema.types[schema.names.index(name)] if schema.names else "double"
        for i, name in enumerate(header)
        if not schema.names or (name in schema.names and schema.is_numeric_column(name))
    }
    converted: list[Any] = []
    for line, row in enumerate(rows, start=2):
        values: list[Any] = list(row)
        for i, kind in kinds.items():
            try:
                values[i] = _cell(row[i], kind)
            except ValueError:
                wanted = "true or false" if kind == "boolean" else "a number"
                raise InvalidInput(
                    f"CSV line {line}, column {header[i]!r}: {row[i]!r} is not {wanted}"
                ) from None
        converted.append(values)
    return converted


def _cell(text: str, kind: str) -> Any:
    cell = text.strip()
    if cell in _MISSING:
        return None
    if kind == "boolean":
        flag = _BOOLEANS.get(cell.lower())
        if flag is None:
            raise ValueError(cell)
        return flag
    if cell.lower() in ("true", "false"):
        raise ValueError(cell)
    return int(cell) if cell.lstrip("+-").isdigit() else float(cell)


def _from_csv(body: bytes, schema: InputSchema) -> np.ndarray:
    try:
        text = body.decode("utf-8-sig")  # a byte-order mark from a spreadsheet is not data
    except UnicodeDecodeError:
        raise InvalidInput("the CSV body is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    rows = [row for row in reader if row]
    if not header or not rows:
        raise InvalidInput("the CSV needs a header row and at least one data row")
    if any(len(row) != len(header) for row in rows):
        raise InvalidInput(f"every CSV row must have {len(header)} fields, as the header")
    if len(set(header)) != len(header):
        raise InvalidInput("the CSV header names a column more than once")
    rows = _numbers_from_text(header, rows, schema)
    if not schema.names:
        return schema.from_rows(rows)
    return schema.from_columns(
        {name: list(col) for name, col in zip(header, zip(*rows, strict=True), strict=True)}
    )
