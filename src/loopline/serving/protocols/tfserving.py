"""TensorFlow Serving REST: ``:predict`` in the row (``instances``) and columnar (``inputs``)
formats, and the model status document."""

from __future__ import annotations

from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.serving.inputs import InputSchema
from loopline.serving.model import ServedModel
from loopline.serving.protocols import Decoded
from loopline.serving.protocols._json import dumps, loads_object

__all__ = ["decode_predict", "encode_predict", "model_status"]


def decode_predict(body: bytes, model: ServedModel) -> Decoded:
    """The rows; the reply key is ``predictions`` for ``instances``, ``outputs`` for ``inputs``."""
    request = loads_object(body)
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise InvalidInput('the request needs exactly one of "instances" or "inputs"')
    if has_instances:
        return Decoded(
            _rows(request["instances"], model.schema, "instances"), reply_key="predictions"
        )
    inputs = request["inputs"]
    if isinstance(inputs, dict):
        return Decoded(model.schema.from_columns(inputs), reply_key="outputs")
    return Decoded(_rows(inputs, model.schema, "inputs"), reply_key="outputs")


def encode_predict(key: str, outputs: dict[str, np.ndarray]) -> bytes:
    return dumps({key: outputs["predict"]})


def model_status(versions: list[str], errors: dict[str, str]) -> dict[str, Any]:
    status = [
        {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions
    ]
    status += [
        {"version": v, "state": "END", "status": {"error_code": "UNKNOWN", "error_message": e}}
        for v, e in errors.items()
    ]
    return {"model_version_status": status}


def _rows(instances: Any, schema: InputSchema, key: str) -> np.ndarray:
    if not isinstance(instances, list) or not instances:
        raise InvalidInput(f'"{key}" must be a non-empty list (or, for "inputs", an object)')
    first = instances[0]
    if isinstance(first, dict):
        return schema.from_records(instances)
    if not isinstance(first, list):  # a list of scalars: one column, one value per row
        return schema.from_rows([[value] for value in instances])
    return schema.from_rows(instances)
