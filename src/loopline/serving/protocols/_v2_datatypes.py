"""What each KServe V2 tensor datatype holds, checked on a request's JSON values: a tensor that
says ``INT8`` holds whole numbers within -128..127, ``FP32`` numbers that fit in 32 bits, ``BOOL``
only ``true``/``false`` and ``BYTES`` only text. ``null`` stands for a missing value in any
datatype; whether the model takes it is the signature's and the model's call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput

__all__ = ["DATATYPES", "NUMERIC_DATATYPES", "check_tensor_values"]

_WHOLE = {
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
}
_FLOAT_MAX = {
    "FP16": float(np.finfo(np.float16).max),
    "FP32": float(np.finfo(np.float32).max),
}
DATATYPES = frozenset({*_WHOLE, *_FLOAT_MAX, "FP64", "BOOL", "BYTES"})
NUMERIC_DATATYPES = frozenset({*_WHOLE, *_FLOAT_MAX, "FP64"})
_NUMBER_TYPES = frozenset({int, float, type(None)})


def check_tensor_values(name: str, datatype: str, values: list[Any]) -> None:
    """Refuse a value its datatype cannot hold, naming the input, the value and the range."""
    types = set(map(type, values))
    if datatype == "BYTES":
        if not types <= {str, type(None)}:
            _refuse(name, datatype, _first(values, lambda v: not isinstance(v, str | None)), "text")
        return
    if datatype == "BOOL":
        if not types <= {bool, type(None)}:
            _refuse(
                name,
                datatype,
                _first(values, lambda v: not isinstance(v, bool | None)),
                "true or false",
            )
        return
    if not types <= _NUMBER_TYPES:
        bad = _first(values, lambda v: isinstance(v, bool) or not isinstance(v, int | float | None))
        _refuse(name, datatype, bad, "numbers")
    if datatype in _WHOLE:
        _check_whole(name, datatype, values, float in types)
    elif datatype != "FP64":  # JSON cannot carry a number beyond FP64
        limit = _FLOAT_MAX[datatype]
        numbers = np.asarray([v for v in values if v is not None], dtype=np.float64)
        if numbers.size and float(np.abs(numbers).max()) > limit:
            bad = float(numbers[np.abs(numbers) > limit][0])
            _refuse(name, datatype, bad, f"numbers within ±{limit:.7g}")


def _check_whole(name: str, datatype: str, values: list[Any], has_floats: bool) -> None:
    low, high = _WHOLE[datatype]
    for value in values:
        if value is None:
            continue
        if has_floats and isinstance(value, float) and not value.is_integer():
            _refuse(name, datatype, value, f"whole numbers within {low}..{high}")
        if not low <= value <= high:
            _refuse(name, datatype, value, f"whole numbers within {low}..{high}")


def _first(values: list[Any], bad: Any) -> Any:
    return next(v for v in values if bad(v))


def _refuse(name: str, datatype: str, value: Any, takes: str) -> None:
    shown = "true" if value is True else "false" if value is False else repr(value)
    raise InvalidInput(
        f"input {name!r} is {datatype}, which holds {takes}; it has {shown}",
        hint="send values that fit the datatype, or declare the datatype the values have",
    )
