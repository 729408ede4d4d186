"""The input contract of a served model, taken from its signature, and the checks that turn a
request's decoded JSON into one 2-D array in the trained column order.

Every protocol decodes to the same shape (rows x columns), so batching concatenates requests and
the model sees one array. Each check names the problem (missing or extra columns, a wrong type, a
wrong shape) because the message goes straight back to the client as a 400.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.serving._columns import (
    NUMERIC,
    check_numbers,
    coerce_column,
    missing_value,
    not_finite,
)

__all__ = ["InputSchema"]

_NUMERIC = NUMERIC
_WHOLE = frozenset({"integer", "long"})
_NUMPY: dict[str, np.dtype[Any]] = {
    "double": np.dtype("float64"),
    "float": np.dtype("float32"),
    "long": np.dtype("int64"),
    "integer": np.dtype("int32"),
    "boolean": np.dtype("bool"),
    "string": np.dtype("object"),
    "binary": np.dtype("object"),
    "datetime": np.dtype("datetime64[ns]"),
}
# V2 tensor datatypes each column type accepts (numbers widen; strings only as BYTES).
_V2_ACCEPTS = {
    "double": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16"},
    "float": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16"},
    "long": {"INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16", "UINT32"},
    "integer": {"INT32", "INT16", "INT8", "UINT8", "UINT16"},
    "boolean": {"BOOL"},
    "string": {"BYTES"},
    "binary": {"BYTES"},
    "datetime": {"BYTES"},
}
_TO_V2 = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


@dataclass(frozen=True)
class InputSchema:
    """Column names and MLflow types a model takes; ``names`` is empty for an unnamed matrix of
    ``width`` numbers (a model without a column signature)."""

    names: tuple[str, ...]
    types: tuple[str, ...]
    width: int | None
    required: tuple[bool, ...] = ()
    allow_nan: bool = False  # the model takes missing values (NaN) in any column

    @classmethod
    def of_columns(
        cls,
        names: Sequence[str],
        types: Sequence[str],
        required: Sequence[bool] | None = None,
        *,
        allow_nan: bool = False,
    ) -> InputSchema:
        required = tuple(required or [True] * len(names))
        return cls(tuple(names), tuple(types), len(names), required, allow_nan)

    @classmethod
    def unnamed(cls, width: int | None, *, allow_nan: bool = False) -> InputSchema:
        return cls((), ("double",) * (width or 0), width, (), allow_nan)

    # Cached: every request asks (a frozen dataclass keeps cached_property in its __dict__).
    @cached_property
    def numeric(self) -> bool:
        return all(t in _NUMERIC for t in self.types)

    @cached_property
    def storage(self) -> np.dtype[Any]:
        """The dtype of the 2-D array requests are decoded into: float64 for columns of
        floating-point numbers (and booleans), objects otherwise, so that whole numbers
        (``long``) stay exact Python ints on their way to the model and the inference log
        (float64 rounds any integer above 2**53)."""
        if self.numeric and not self._whole_numbers:
            return np.dtype("float64")
        return np.dtype("object")

    @cached_property
    def _whole_numbers(self) -> bool:
        return any(t in _WHOLE for t in self.types)

    @cached_property
    def column_dtypes(self) -> dict[str, np.dtype[Any]]:
        """Per-column casts a DataFrame needs after decoding (empty when float64 is right).
        A whole-number or boolean column that may hold missing values stays float (NaN)."""
        storage = self.storage
        casts: dict[str, np.dtype[Any]] = {}
        for index, (name, kind) in enumerate(zip(self.names, self.types, strict=True)):
            dtype = _NUMPY[kind]
            if kind in ("integer", "long", "boolean") and self._allows_missing(index):
                dtype = np.dtype("float64")
            if dtype != storage:
                casts[name] = dtype
        return casts

    def is_numeric_column(self, name: str) -> bool:
        return self.types[self.names.index(name)] in _NUMERIC

    def v2_datatype(self, column: int) -> str:
        return _TO_V2.get(self.types[column], "BYTES") if self.types else "FP64"

    def accepts_v2(self, column: int, datatype: str) -> bool:
        kind = self.types[column] if self.types else "double"
        return datatype in _V2_ACCEPTS.get(kind, set())

    # -- decoding ---------------------------------------------------------------------------

    def from_rows(self, rows: Any) -> np.ndarray:
        """A list of rows, each a list of values in column order (or one flat row)."""
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("expected a non-empty list of rows")
        if not isinstance(rows[0], list):
            rows = [rows]
        width = len(rows[0])
        if any(not isinstance(r, list) or len(r) != width for r in rows):
            raise InvalidInput("every row must be a list with the same number of values")
        self._check_width(width)
        return self._finish(self._array(rows))

    def from_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """A mapping of column name to a list of values (one per row)."""
        if not self.names:
            raise InvalidInput(
                "this model takes an unnamed matrix of numbers, not named columns",
                hint="send the rows as a list of lists",
            )
        self._check_names(columns.keys())
        values = [columns[name] for name in self.names]
        lengths = {len(v) if isinstance(v, list) else -1 for v in values}
        if -1 in lengths:
            bad = next(n for n in self.names if not isinstance(columns[n], list))
            raise InvalidInput(f"column {bad!r} must be a list of values, one per row")
        if len(lengths) != 1:
            raise InvalidInput(f"columns have different numbers of rows: {sorted(lengths)}")
        if lengths == {0}:
            raise InvalidInput("the request has no rows")
        return self._finish(self._array(list(zip(*values, strict=True))))

    def from_records(self, records: Any) -> np.ndarray:
        """A list of ``{column: value}`` objects, one per row."""
        if not isinstance(records, list) or not records:
            raise InvalidInput("expected a non-empty list of records")
        if not all(isinstance(r, dict) for r in records):
            raise InvalidInput("every record must be an object of column: value")
        if not self.names:
            raise InvalidInput("this model takes an unnamed matrix; send rows as lists")
        for record in records:
            if len(record) != len(self.names) or any(n not in record for n in self.names):
                self._check_names(record.keys())
        names = self.names
        return self._finish(self._array([[r[n] for n in names] for r in records]))

    def from_tensor(self, data: Any, shape: Sequence[int]) -> np.ndarray:
        """A row-major tensor (flat or nested) of ``shape`` ``[rows, columns]`` or ``[rows]``."""
        array = self._array(data).reshape(-1) if isinstance(data, list) else None
        if array is None:
            raise InvalidInput("tensor data must be a list")
        if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in shape):
            raise InvalidInput(f"shape {list(shape)} must be a list of non-negative integers")
        expected = math.prod(shape)
        if array.size != expected:
            raise InvalidInput(
                f"the tensor has {array.size} values but its shape {list(shape)} needs {expected}"
            )
        rows = shape[0]
        if rows == 0:
            raise InvalidInput("the request has no rows")
        matrix = array.reshape(rows, -1)
        self._check_width(matrix.shape[1])
        return self._finish(matrix)

    # -- checks -----------------------------------------------------------------------------

    def _array(self, data: Any) -> np.ndarray:
        """The values as an array: float64 straight away when they are all plain numbers for an
        all-numeric model (the common case), otherwise objects that ``_finish`` checks one
        column at a time."""
        try:
            if self._plain_numbers and _leaf_types(data) <= _PLAIN_NUMBERS:
                return np.asarray(data, dtype=np.float64)
            return np.asarray(data, dtype=object)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(
                f"the values do not form rows of equal length ({exc})", hint=self._columns_hint()
            ) from None

    def _finish(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.ndim != 2:
            raise InvalidInput(
                f"expected rows of {self.width} values, got an array of {matrix.ndim} dimensions"
            )
        if matrix.dtype.kind == "O":
            return self._coerce(matrix)
        finite = np.isfinite(matrix)
        if not finite.all():
            for index in np.unique(np.argwhere(~finite)[:, 1]).tolist():
                column = matrix[:, index]
                if np.isinf(column).any():
                    raise not_finite(self._label(index), float(column[np.isinf(column)][0]))
                if not self._allows_missing(index):
                    raise missing_value(self._label(index))
        for index in self._range_checked:
            check_numbers(self._label(index), self.types[index], matrix[:, index])
        return matrix

    def _coerce(self, matrix: np.ndarray) -> np.ndarray:
        """Each column checked against its type (see ``_columns``)."""
        columns = [
            coerce_column(self._label(i), self._kind(i), matrix[:, i], self._allows_missing(i))
            for i in range(matrix.shape[1])
        ]
        if self.storage == np.float64:
            return np.array(columns, dtype=np.float64).T.copy()
        out = np.empty(matrix.shape, dtype=object)
        for index, values in enumerate(columns):
            out[:, index] = values
        return out

    def _kind(self, column: int) -> str:
        return self.types[column] if column < len(self.types) else "double"

    def _allows_missing(self, column: int) -> bool:
        """Null/NaN is taken when the model handles missing values, or the column is optional."""
        return self.allow_nan or (bool(self.required) and not self.required[column])

    @cached_property
    def _plain_numbers(self) -> bool:
        """Every column takes plain numbers: JSON numbers become float64 in one step."""
        return self.numeric and "boolean" not in self.types and not self._whole_numbers

    @cached_property
    def _range_checked(self) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.types) if t in ("integer", "long", "float"))

    def _label(self, column: int) -> str:
        return self.names[column] if self.names else f"#{column}"

    def _check_width(self, width: int) -> None:
        if self.width is not None and width != self.width:
            raise InvalidInput(
                f"each row must have {self.width} values, got {width}", hint=self._columns_hint()
            )

    def _check_names(self, given: Any) -> None:
        given_set = set(given)
        missing = [n for n in self.names if n not in given_set]
        extra = sorted(given_set - set(self.names))
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"unknown column(s) {', '.join(extra)}")
        if problems:
            raise InvalidInput("; ".join(problems), hint=self._columns_hint())

    def _columns_hint(self) -> str:
        if not self.names:
            return f"send rows of {self.width} numbers" if self.width else "send rows of numbers"
        shown = ", ".join(f"{n} ({t})" for n, t in zip(self.names, self.types, strict=True))
        return f"the model takes, in order: {shown}"


_PLAIN_NUMBERS = frozenset({float, int})


def _leaf_types(data: Any) -> set[type]:
    """The Python types of the values in nested lists (rows of values, or a tensor)."""
    level = data if isinstance(data, list | tuple) else [data]
    while True:
        types = set(map(type, level))
        if not types & {list, tuple}:
            return types
        if not types <= {list, tuple}:
            return types | {object}  # ragged nesting: numpy names the problem
        level = list(itertools.chain.from_iterable(level))
