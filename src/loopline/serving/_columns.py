"""The type rules of one input column: which JSON values a column of an MLflow type takes, and
the number (or text) each becomes. The rules follow MLflow's schema enforcement (a conversion
is allowed only when it loses nothing) and are written out in docs/serving-types.md.

- ``double``/``float``: numbers; ``true``/``false`` are not numbers; a ``float`` value must fit
  in 32 bits.
- ``integer``/``long``: whole numbers within 32 or 64 bits; ``1.9`` is refused, ``2.0`` is 2.
- ``boolean``: ``true``/``false`` only.
- ``string``/``binary``/``datetime``: text only (a number is not silently turned into text).
- ``null`` (and NaN) is a missing value: taken only when the model handles missing values or
  the column is optional; infinity is never taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput

__all__ = ["NUMERIC", "check_numbers", "coerce_column", "missing_value", "not_finite"]

NUMERIC = frozenset({"double", "float", "long", "integer", "boolean"})
_TEXT = frozenset({"string", "binary", "datetime"})
# Inclusive bounds of whole-number columns; float bounds of 32-bit floats.
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INF = float("inf")


def coerce_column(label: str, kind: str, values: Iterable[Any], allow_missing: bool) -> list[Any]:
    """The column's values checked against ``kind``: ``double``/``float`` numbers as ``float``
    (missing as NaN), ``integer``/``long`` numbers as exact ``int`` (missing as None, so no
    value above 2**53 is rounded through a float), booleans as ``bool``, text as ``str``
    (missing as None)."""
    out: list[Any] = []
    exact: list[Any] = []  # the numbers as sent, for exact range checks of whole numbers
    whole = kind in _INT_BOUNDS
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            if not allow_missing:
                raise missing_value(label)
            out.append(None if kind in _TEXT or whole else float("nan"))
        elif kind in _TEXT:
            if not isinstance(value, str):
                raise _wrong_kind(label, kind, value, "text")
            out.append(value)
        elif kind == "boolean":
            if not isinstance(value, bool | np.bool_):
                raise _wrong_kind(label, kind, value, "true or false")
            out.append(bool(value))
        else:
            if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
                raise _wrong_kind(label, kind, value, "a number")
            number = float(value)
            if number in (_INF, -_INF):
                raise not_finite(label, value)
            out.append(number)
            exact.append(value)
    if exact and kind not in _TEXT and kind != "boolean":
        check_numbers(label, kind, np.asarray(exact, dtype=np.float64), exact)
        if whole:  # checked whole and in range: the exact integers, not their float copies
            ints = iter(exact)
            out = [v if v is None else int(next(ints)) for v in out]
    return out


def check_numbers(
    label: str, kind: str, column: np.ndarray, exact: list[Any] | None = None
) -> None:
    """Whole-number columns hold whole numbers within their range; ``float`` columns fit in 32
    bits. ``column`` is float64 (NaN for missing values, checked elsewhere)."""
    present = column[~np.isnan(column)] if column.dtype.kind == "f" else column
    if kind in _INT_BOUNDS:
        low, high = _INT_BOUNDS[kind]
        fraction = present != np.trunc(present)
        if fraction.any():
            bad = float(present[fraction][0])
            raise InvalidInput(
                f"column {label!r} takes whole numbers ({kind}); {bad!r} would lose its fraction",
                hint="round the value on the client, or log the model with a double column",
            )
        # float64 holds 2**63 exactly, so compare with the exact ints when they are at hand.
        values = exact if exact is not None else present.tolist()
        outside = [v for v in values if not low <= v <= high]
        if outside:
            raise InvalidInput(
                f"column {label!r} is {kind} ({low}..{high}); {outside[0]!r} does not fit"
            )
    elif kind == "float" and present.size and float(np.abs(present).max()) > _FLOAT32_MAX:
        raise InvalidInput(
            f"column {label!r} is a 32-bit float; {float(np.abs(present).max())!r} does not fit",
            hint=f"send values within ±{_FLOAT32_MAX:.7g}",
        )


def not_finite(label: str, value: Any) -> InvalidInput:
    return InvalidInput(
        f"column {label!r} has {value!r}, which is not a finite number",
        hint="send a finite value (null for a missing one, if the model takes them)",
    )


def missing_value(label: str) -> InvalidInput:
    return InvalidInput(
        f"column {label!r} has a missing value (null or NaN), and the model does not take "
        "missing values",
        hint="send a value for every row; models such as HistGradientBoosting take nulls",
    )


def _wrong_kind(label: str, kind: str, value: Any, wanted: str) -> InvalidInput:
    shown = "true" if value is True else "false" if value is False else repr(value)
    return InvalidInput(
        f"column {label!r} is {kind} and takes {wanted}, not {shown} ({_json_kind(value)})",
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "a boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float | np.number):
        return "a number"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    return type(value).__name__
