"""JSON decoding and encoding for request and response bodies (orjson: NumPy arrays are encoded
without a detour through Python lists)."""

from __future__ import annotations

from typing import Any

import orjson

from loopline.core.errors import InvalidInput

__all__ = ["dumps", "loads_object"]

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def loads_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise InvalidInput("the request body is empty", hint="send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"the request body must be a JSON object, not {type(data).__name__}")
    return data


def dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=_OPTIONS)
    except TypeError:  # e.g. object arrays of Python values: fall back to plain lists
        return orjson.dumps(_plain(data), option=_OPTIONS)


def _plain(data: Any) -> Any:
    import numpy as np

    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, np.generic):
        return data.item()
    return data
