"""KServe V2 / Open Inference Protocol, REST: infer request and response bodies, and model
metadata built from the model's signature.

A request carries either one tensor per input column (named as the columns, shape ``[rows]`` or
``[rows, 1]``) or a single 2-D tensor ``[rows, columns]`` in the signature's column order, as
KServe's and MLServer's scikit-learn runtimes take it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.serving.inputs import InputSchema
from loopline.serving.model import ServedModel
from loopline.serving.protocols import Decoded
from loopline.serving.protocols._json import dumps, loads_object
from loopline.serving.protocols._v2_datatypes import (
    DATATYPES,
    NUMERIC_DATATYPES,
    check_tensor_values,
)

__all__ = ["decode_infer", "encode_infer", "model_metadata"]


def decode_infer(body: bytes, model: ServedModel) -> Decoded:
    request = loads_object(body)
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput('the request needs "inputs": a non-empty list of tensors')
    tensors = [_tensor(t, i) for i, t in enumerate(inputs)]
    names = [t["name"] for t in tensors]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"input {twice[0]!r} is given more than once")
    schema = model.schema
    if schema.names and all(t["name"] in schema.names for t in tensors):
        values = _from_columns(tensors, schema)
    elif len(tensors) == 1:
        values = _from_matrix(tensors[0], schema)
    else:
        unknown = [t["name"] for t in tensors if t["name"] not in schema.names]
        raise InvalidInput(
            f"unknown input(s) {', '.join(unknown)}",
            hint="send one tensor per column named as the model's columns, "
            "or a single [rows, columns] tensor",
        )
    request_id = request.get("id")
    return Decoded(values, _wanted(request.get("outputs"), model), _text_or_none(request_id))


def encode_infer(
    model: ServedModel, request_id: str, outputs: dict[str, np.ndarray], wanted: tuple[str, ...]
) -> bytes:
    return dumps(
        {
            "model_name": model.name,
            "model_version": model.version,
            "id": request_id,
            "outputs": [_output(name, outputs[name]) for name in wanted],
        }
    )


def model_metadata(model: ServedModel, versions: list[str]) -> dict[str, Any]:
    schema = model.schema
    if schema.names:
        inputs = [
            {"name": name, "datatype": schema.v2_datatype(i), "shape": [-1]}
            for i, name in enumerate(schema.names)
        ]
    else:
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, schema.width or -1]}]
    outputs = [{"name": "predict", "datatype": _predict_datatype(model), "shape": [-1]}]
    if "predict_proba" in model.outputs:
        width = len(model.classes) if model.classes else -1
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, width]})
    return {
        "name": model.name,
        "versions": versions,
        "platform": model.platform,
        "inputs": inputs,
        "outputs": outputs,
    }


# -- decoding helpers ------------------------------------------------------------------------


def _tensor(raw: Any, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"input #{index} must be an object with name, shape, datatype, data")
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in raw]
    if missing:
        raise InvalidInput(f"input #{index} lacks {', '.join(missing)}")
    if not isinstance(raw["name"], str) or not raw["name"]:
        raise InvalidInput(f"input #{index}: name must be a non-empty string")
    if not isinstance(raw["datatype"], str) or raw["datatype"] not in DATATYPES:
        raise InvalidInput(
            f"input {raw['name']!r} has datatype {raw['datatype']!r}",
            hint=f"use one of {', '.join(sorted(DATATYPES))}",
        )
    shape = raw["shape"]
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise InvalidInput(f"input {raw['name']!r}: shape must be a list of non-negative integers")
    return raw


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _from_matrix(tensor: dict[str, Any], schema: InputSchema) -> np.ndarray:
    if schema.numeric and tensor["datatype"] not in NUMERIC_DATATYPES:
        raise InvalidInput(
            f"input {tensor['name']!r} has datatype {tensor['datatype']}; the model takes numbers",
            hint="send FP64 (or another numeric datatype)",
        )
    shape = tensor["shape"]
    if schema.width == 1 and len(shape) == 1:
        shape = [shape[0], 1]
    if len(shape) != 2:
        raise InvalidInput(
            f"input {tensor['name']!r} has shape {shape}; a single input must be "
            f"[rows, {schema.width or 'columns'}]"
        )
    if schema.numeric or tensor["datatype"] != "BYTES":
        # A BYTES matrix for text-and-number columns holds each column's JSON values; the
        # signature checks them column by column.
        check_tensor_values(tensor["name"], tensor["datatype"], _flatten(tensor["data"]))
    return schema.from_tensor(tensor["data"], shape)


def _from_columns(tensors: list[dict[str, Any]], schema: InputSchema) -> np.ndarray:
    columns: dict[str, Any] = {}
    for tensor in tensors:
        name = tensor["name"]
        column = schema.names.index(name)
        if not schema.accepts_v2(column, tensor["datatype"]):
            raise InvalidInput(
                f"input {name!r} has datatype {tensor['datatype']}; "
                f"the model takes {schema.types[column]} ({schema.v2_datatype(column)})"
            )
        shape = tensor["shape"]
        if not shape or len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(f"input {name!r} has shape {shape}; a column is [rows] or [rows, 1]")
        data = tensor["data"]
        flat = _flatten(data)
        if len(flat) != shape[0]:
            raise InvalidInput(
                f"input {name!r} has {len(flat)} values but its shape {shape} needs {shape[0]}"
            )
        check_tensor_values(name, tensor["datatype"], flat)
        columns[name] = flat
    return schema.from_columns(columns)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInput("tensor data must be a list")
    if data and isinstance(data[0], list):
        return [value for row in data for value in (row if isinstance(row, list) else [row])]
    return data


def _wanted(requested: Any, model: ServedModel) -> tuple[str, ...]:
    if requested is None:
        return ("predict",)
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise InvalidInput('"outputs" must be a list of {"name": ...} objects')
    names = tuple(dict.fromkeys(o["name"] for o in requested))  # each output once
    unknown = [n for n in names if n not in model.outputs]
    if unknown:
        raise InvalidInput(
            f"the model has no output {', '.join(unknown)}",
            hint=f"its outputs are {', '.join(model.outputs)}",
        )
    return names or ("predict",)


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


# -- encoding helpers ------------------------------------------------------------------------


def _output(name: str, values: np.ndarray) -> dict[str, Any]:
    return {
        "name": name,
        "datatype": _datatype(values.dtype),
        "shape": list(values.shape),
        "data": values.reshape(-1) if values.dtype.kind in "biuf" else values.reshape(-1).tolist(),
    }


def _datatype(dtype: np.dtype[Any]) -> str:
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind == "f":
        return {2: "FP16", 4: "FP32"}.get(size, "FP64")
    if kind == "i":
        return {1: "INT8", 2: "INT16", 4: "INT32"}.get(size, "INT64")
    if kind == "u":
        return {1: "UINT8", 2: "UINT16", 4: "UINT32"}.get(size, "UINT64")
    return "BYTES"


def _predict_datatype(model: ServedModel) -> str:
    if model.classes:
        return _datatype(np.asarray(model.classes).dtype)
    return "FP64"
