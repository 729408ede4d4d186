"""The input contract of a served model, taken from its signature, and the checks that turn a
request's decoded JSON into one 2-D array in the trained column order.

Every protocol decodes to the same shape (rows x columns), so batching concatenates requests and
the model sees one array. Each check names the problem (missing or extra columns, a wrong type, a
wrong shape) because the message goes straight back to the client as a 400.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput

__all__ = ["InputSchema"]

_NUMERIC = {"double", "float", "long", "integer", "boolean"}
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

    @classmethod
    def of_columns(
        cls, names: Sequence[str], types: Sequence[str], required: Sequence[bool] | None = None
    ) -> InputSchema:
        return cls(tuple(names), tuple(types), len(names), tuple(required or [True] * len(names)))

    @classmethod
    def unnamed(cls, width: int | None) -> InputSchema:
        return cls((), ("double",) * (width or 0), width)

    # Cached: every request asks (a frozen dataclass keeps cached_property in its __dict__).
    @cached_property
    def numeric(self) -> bool:
        return all(t in _NUMERIC for t in self.types)

    @cached_property
    def storage(self) -> np.dtype[Any]:
        """The dtype of the 2-D array requests are decoded into."""
        return np.dtype("float64") if self.numeric else np.dtype("object")

    @cached_property
    def column_dtypes(self) -> dict[str, np.dtype[Any]]:
        """Per-column casts a DataFrame needs after decoding (empty when float64 is right)."""
        pairs = zip(self.names, self.types, strict=True)
        storage = self.storage
        return {n: _NUMPY[t] for n, t in pairs if _NUMPY[t] != storage}

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
        try:
            if self.storage == np.float64:
                raw = np.asarray(data)
                if raw.dtype.kind in "USV":  # text such as "1.5" is not a number
                    raise ValueError("found text where numbers belong")
                return raw.astype(np.float64, copy=False)  # null becomes NaN, refused later
            return np.asarray(data, dtype=self.storage)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"the values must be numbers for this model's columns ({exc})",
                hint=self._columns_hint(),
            ) from None

    def _finish(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.ndim != 2:
            raise InvalidInput(
                f"expected rows of {self.width} values, got an array of {matrix.ndim} dimensions"
            )
        if matrix.dtype == np.float64:
            finite = np.isfinite(matrix)
            if not finite.all():
                raise self._missing(int(np.argwhere(~finite)[0][1]))
        else:
            self._check_mixed_columns(matrix)
        return matrix

    def _check_mixed_columns(self, matrix: np.ndarray) -> None:
        """Rows of text and numbers: numeric columns must hold finite numbers, required
        columns a value."""
        for index, kind in enumerate(self.types):
            column = matrix[:, index]
            if kind in _NUMERIC:
                if any(isinstance(v, str | bytes) for v in column):
                    raise InvalidInput(
                        f"column {self._label(index)!r} must hold numbers ({kind}), not text",
                        hint=self._columns_hint(),
                    )
                try:
                    numbers = column.astype(np.float64)
                except (TypeError, ValueError):
                    raise InvalidInput(
                        f"column {self._label(index)!r} must hold numbers ({kind})",
                        hint=self._columns_hint(),
                    ) from None
                if not np.isfinite(numbers).all():
                    raise self._missing(index)
            elif (not self.required or self.required[index]) and any(v is None for v in column):
                raise self._missing(index)

    def _label(self, column: int) -> str:
        return self.names[column] if self.names else f"#{column}"

    def _missing(self, column: int) -> InvalidInput:
        return InvalidInput(
            f"column {self._label(column)!r} has a missing value (null, NaN or infinity)",
            hint="send a finite value for every row",
        )

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
