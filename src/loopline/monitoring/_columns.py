"""Turn Arrow columns into what the detectors take: sorted finite floats or aligned level counts.

Also the small summaries a report shows next to each test: missing shares, distinct values and
the data for its distribution plot (shared bins for numbers, the largest levels for categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loopline.core.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CategoricalColumn",
    "NumericColumn",
    "Plot",
    "column_kind",
    "prepare_categorical",
    "prepare_numeric",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PLOT_BINS = 24
PLOT_LEVELS = 8


@dataclass(frozen=True)
class Plot:
    """Reference and current shares over the same bins (numbers) or levels (categories)."""

    kind: str  # "histogram" (edges has one more entry than shares) or "bars" (labels)
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "reference": list(self.reference),
            "current": list(self.current),
        }
        if self.kind == "histogram":
            data["edges"] = list(self.edges)
        else:
            data["labels"] = list(self.labels)
        return data


@dataclass(frozen=True)
class NumericColumn:
    reference: FloatArray  # sorted, finite
    current: FloatArray
    missing_reference: float
    missing_current: float

    def n_unique(self) -> int:
        """Distinct values across both samples (as categorical columns count their levels)."""
        ref_unique, cur_unique = _sorted_unique(self.reference), _sorted_unique(self.current)
        if not ref_unique.size:
            return int(cur_unique.size)
        at = np.minimum(np.searchsorted(ref_unique, cur_unique), ref_unique.size - 1)
        shared = int(np.count_nonzero(ref_unique[at] == cur_unique))
        return int(ref_unique.size + cur_unique.size - shared)

    def levels(self) -> tuple[IntArray, IntArray]:
        """Counts per distinct value, over the union of both samples."""
        values = np.union1d(_sorted_unique(self.reference), _sorted_unique(self.current))
        return _counts_sorted(self.reference, values), _counts_sorted(self.current, values)

    def plot(self) -> Plot:
        both = (self.reference, self.current)
        present = [s for s in both if s.size]
        if not present:
            return Plot("histogram", (), (), ())
        # Bins over the central 99% of either sample so one outlier does not flatten the plot.
        low = min(float(s[int(0.005 * (s.size - 1))]) for s in present)
        high = max(float(s[int(0.995 * (s.size - 1))]) for s in present)
        if high <= low:
            low, high = low - 0.5, high + 0.5
        if high - low <= PLOT_BINS and all(_integral(s) for s in present):
            # Whole numbers in a short range: one bin per value, centred on it.
            low, high = math.floor(low), math.ceil(high)
            edges = np.arange(low - 0.5, high + 1.0, 1.0)
        else:
            edges = np.linspace(low, high, PLOT_BINS + 1)
        shares = []
        for sample in both:
            inner = np.searchsorted(sample, edges[1:-1], side="left")
            counts = np.diff(inner, prepend=0, append=sample.size)
            shares.append(tuple((counts / max(sample.size, 1)).tolist()))
        return Plot("histogram", shares[0], shares[1], tuple(edges.tolist()))


@dataclass(frozen=True)
class CategoricalColumn:
    levels: tuple[str, ...]  # sorted union of the levels seen on either side
    reference_counts: IntArray
    current_counts: IntArray
    missing_reference: float
    missing_current: float

    def unseen(self) -> tuple[int, float]:
        unseen = int(self.current_counts[self.reference_counts == 0].sum())
        total = int(self.current_counts.sum())
        return unseen, (unseen / total if total else 0.0)

    def plot(self) -> Plot:
        ref = self.reference_counts / max(int(self.reference_counts.sum()), 1)
        cur = self.current_counts / max(int(self.current_counts.sum()), 1)
        order = np.argsort(-np.maximum(ref, cur), kind="stable")
        top = order[:PLOT_LEVELS]
        labels = [self.levels[i] for i in top]
        ref_shares, cur_shares = ref[top].tolist(), cur[top].tolist()
        if order.size > PLOT_LEVELS:
            rest = order[PLOT_LEVELS:]
            labels.append(f"{rest.size} others")
            ref_shares.append(float(ref[rest].sum()))
            cur_shares.append(float(cur[rest].sum()))
        return Plot("bars", tuple(ref_shares), tuple(cur_shares), labels=tuple(labels))


def _integral(values: FloatArray) -> bool:
    return bool(np.array_equal(values, np.floor(values)))


def _sorted_unique(values: FloatArray) -> FloatArray:
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _counts_sorted(values: FloatArray, levels: FloatArray) -> IntArray:
    left = np.searchsorted(values, levels, side="left")
    right = np.searchsorted(values, levels, side="right")
    counts: IntArray = (right - left).astype(np.int64)
    return counts


def column_kind(name: str, data_type: pa.DataType) -> str | None:
    """ "numeric", "categorical", or None for a column of nulls only (its type comes from the
    other table)."""
    import pyarrow as pa

    if pa.types.is_null(data_type):
        return None
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "numeric"
    if pa.types.is_decimal(data_type):
        return "numeric"
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_dictionary(data_type)
    ):
        return "categorical"
    raise InvalidInput(
        f"column {name!r} holds {data_type}, which has no drift test",
        hint="drift is measured on numbers and categories; leave it out with --columns",
    )


def _missing(column: pa.ChunkedArray, finite: FloatArray | None = None) -> float:
    if len(column) == 0:
        return 0.0
    if finite is not None:
        return 1.0 - finite.size / len(column)
    return float(column.null_count) / len(column)


def prepare_numeric(reference: pa.ChunkedArray, current: pa.ChunkedArray) -> NumericColumn:
    ref, cur = _floats(reference), _floats(current)
    return NumericColumn(ref, cur, _missing(reference, ref), _missing(current, cur))


def _floats(column: pa.ChunkedArray) -> FloatArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    floats = pc.cast(column, pa.float64())
    parts = [_valid_floats(chunk) for chunk in floats.chunks if len(chunk)]
    values: FloatArray = np.concatenate(parts) if parts else np.empty(0)
    values = values[np.isfinite(values)]
    values.sort()
    return values


def _primitive(array: pa.Array, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A null-free primitive Arrow array as NumPy, from its buffer (``to_numpy`` would import
    pandas: a second of start-up for a short command)."""
    size = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * size)


def _valid_floats(chunk: pa.Array) -> FloatArray:
    """The non-null values of a float64 chunk (its validity bitmap applied by hand)."""
    values: FloatArray = _primitive(chunk, np.float64)
    if chunk.null_count == 0:
        return values
    bits = np.unpackbits(
        np.frombuffer(chunk.buffers()[0], np.uint8),
        count=chunk.offset + len(chunk),
        bitorder="little",
    )[chunk.offset :]
    valid: FloatArray = values[bits.astype(bool)]
    return valid


def _level_counts(column: pa.ChunkedArray) -> tuple[pa.Array, IntArray, int]:
    """Distinct non-missing values as strings, their counts, and how many values were missing
    (null, or NaN for floats). Dictionary columns are counted on their codes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(column.type):
        return pa.array([], pa.large_string()), np.zeros(0, np.int64), len(column)
    values = column.drop_null()
    if pa.types.is_floating(values.type):
        values = values.filter(pc.invert(pc.is_nan(values)))
    if pa.types.is_dictionary(values.type):
        values = values.unify_dictionaries()
    counted = pc.value_counts(values)
    levels = counted.field("values")
    if pa.types.is_dictionary(levels.type):
        levels = pc.cast(levels, levels.type.value_type)
    levels = pc.cast(levels, pa.large_string())
    return levels, _primitive(counted.field("counts"), np.int64), len(column) - len(values)


def prepare_categorical(reference: pa.ChunkedArray, current: pa.ChunkedArray) -> CategoricalColumn:
    import pyarrow as pa
    import pyarrow.compute as pc

    ref_levels, ref_counts, ref_missing = _level_counts(reference)
    cur_levels, cur_counts, cur_missing = _level_counts(current)
    union = pc.unique(pa.concat_arrays([ref_levels, cur_levels]))
    union = union.take(pc.sort_indices(union))
    counts = []
    for levels, side_counts in ((ref_levels, ref_counts), (cur_levels, cur_counts)):
        aligned = np.zeros(len(union), dtype=np.int64)
        aligned[_primitive(pc.index_in(levels, value_set=union), np.int32)] = side_counts
        counts.append(aligned)
    return CategoricalColumn(
        tuple(union.to_pylist()),
        counts[0],
        counts[1],
        ref_missing / len(reference) if len(reference) else 0.0,
        cur_missing / len(current) if len(current) else 0.0,
    )
