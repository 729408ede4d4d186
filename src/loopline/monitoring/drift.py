"""Drift between a reference table and a current table: one test per column, one verdict.

Default test per column, as Evidently 0.7 chooses (``n_ref``: non-missing reference values,
``n_unique``: distinct non-missing values across both tables):

================================  ======================  ======================
condition                         numeric column          categorical column
================================  ======================  ======================
``n_ref <= 1000``, many values    ``ks`` (n_unique > 5)   ``chi2_gof`` (n_unique > 2)
``n_ref <= 1000``, few values     ``chi2_gof`` (3 to 5),  ``z`` (n_unique <= 2)
                                  ``z`` (n_unique <= 2)
``n_ref > 1000``                  ``wasserstein_normed``  ``jensenshannon``
                                  (n_unique > 5), else
                                  ``jensenshannon``
================================  ======================  ======================

Thresholds (configurable per test): p-value tests drift when p < 0.05 (``ks``: p <= 0.05),
distances drift when the value >= 0.1. The dataset drifts when the share of drifted columns
reaches ``drift_share`` (default 0.5).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from loopline.core.errors import InvalidInput
from loopline.monitoring import detectors
from loopline.monitoring._columns import (
    CategoricalColumn,
    NumericColumn,
    Plot,
    column_kind,
    prepare_categorical,
    prepare_numeric,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ColumnDrift",
    "DriftDetector",
    "DriftReport",
]

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ks": 0.05,
    "chi2": 0.05,
    "chi2_gof": 0.05,
    "z": 0.05,
    "psi": 0.1,
    "wasserstein_normed": 0.1,
    "jensenshannon": 0.1,
}
SMALL_REFERENCE = 1000  # Evidently: p-value tests up to this many reference values
HIGH_CARDINALITY = 1000  # levels beyond which a categorical column is flagged as id-like
FEW_ROWS = 30


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column, with what a reader needs to trust it."""

    name: str
    kind: str  # "numeric" | "categorical"
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    n_unique: int
    unseen_count: int = 0
    unseen_share: float = 0.0
    note: str | None = None
    plot: Plot | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The column's entry in the report's JSON (an infinite statistic is written as null)."""
        return {
            "type": self.kind,
            "test": self.test,
            "statistic": _finite_or_none(self.statistic),
            "p_value": _finite_or_none(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
        }

    def details(self) -> dict[str, Any]:
        """Everything else known about the column: sizes, missing shares, unseen levels, plot."""
        return {
            "statistic": self.statistic,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "missing_change": self.missing_current - self.missing_reference,
            "n_unique": self.n_unique,
            "unseen_count": self.unseen_count,
            "unseen_share": self.unseen_share,
            "note": self.note,
            "plot": self.plot.to_dict() if self.plot is not None else None,
        }

    @property
    def score(self) -> float:
        """How far past its threshold the column is (>= 1 means drifted); for ranking."""
        if self.statistic is None:
            return math.inf if self.drifted else 0.0
        if self.test in detectors.DISTANCE_TESTS:
            return self.statistic / self.threshold if self.threshold else math.inf
        p = self.p_value if self.p_value is not None else 1.0
        return self.threshold / p if p > 0 else math.inf


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset verdict."""

    columns: tuple[ColumnDrift, ...]
    drift_share_threshold: float
    n_reference: int
    n_current: int

    @property
    def drifted_columns(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def drift_share(self) -> float:
        return self.drifted_columns / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.drift_share >= self.drift_share_threshold

    def worst(self, count: int = 5) -> list[ColumnDrift]:
        """The drifted columns furthest past their thresholds."""
        ranked = sorted((c for c in self.columns if c.drifted), key=lambda c: -c.score)
        return ranked[:count]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "columns": {c.name: c.to_dict() for c in self.columns},
        }

    def details(self) -> dict[str, Any]:
        return {
            "drift_share_threshold": self.drift_share_threshold,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": {c.name: c.details() for c in self.columns},
        }


class DriftDetector:
    """Compares a current table with a reference table, column by column.

    ``numeric_test``/``categorical_test`` replace the default choice for every column of that
    type; ``thresholds`` override the default threshold per test name; ``categorical`` names
    columns to treat as categories whatever their type; ``columns`` restricts the comparison.
    ``missing_threshold`` (default off): a column whose share of missing values (null, NaN,
    ±inf) changes by more than this counts as drifted whatever its test says.
    """

    def __init__(
        self,
        *,
        numeric_test: str | None = None,
        categorical_test: str | None = None,
        thresholds: Mapping[str, float] | None = None,
        drift_share: float = 0.5,
        categorical: Iterable[str] = (),
        columns: Sequence[str] | None = None,
        plots: bool = True,
        workers: int | None = None,
        missing_threshold: float | None = None,
    ) -> None:
        known = (*detectors.NUMERIC_TESTS, *detectors.CATEGORICAL_TESTS)
        for option, name in (("numeric", numeric_test), ("categorical", categorical_test)):
            if name is not None and name not in known:
                raise InvalidInput(
                    f"unknown {option} drift test {name!r}",
                    hint=f"choose one of {', '.join(known)}",
                )
        if categorical_test in detectors.NUMERIC_TESTS:
            raise InvalidInput(
                f"{categorical_test!r} compares numbers and cannot judge a categorical column",
                hint=f"choose one of {', '.join(detectors.CATEGORICAL_TESTS)}",
            )
        merged = dict(DEFAULT_THRESHOLDS)
        for name, value in (thresholds or {}).items():
            if name not in merged:
                raise InvalidInput(
                    f"threshold given for unknown test {name!r}",
                    hint=f"tests are {', '.join(merged)}",
                )
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInput(f"threshold for {name} must be a number >= 0, not {value}")
            merged[name] = float(value)
        if not 0 < drift_share <= 1:
            raise InvalidInput(f"drift share {drift_share} is not in (0, 1]")
        if missing_threshold is not None and not 0 <= missing_threshold < 1:
            raise InvalidInput(
                f"missing threshold {missing_threshold} is not in [0, 1)",
                hint="a change of the share of missing values, e.g. 0.1 for 10 points",
            )
        self.missing_threshold = missing_threshold
        self.numeric_test = numeric_test
        self.categorical_test = categorical_test
        self.thresholds = merged
        self.drift_share = drift_share
        self.categorical = frozenset(categorical)
        self.columns = tuple(columns) if columns is not None else None
        self.plots = plots
        self.workers = workers or min(os.cpu_count() or 1, 4)

    def run(self, reference: pa.Table, current: pa.Table) -> DriftReport:
        names = self._column_names(reference, current)
        for side, table in (("reference", reference), ("current", current)):
            if table.num_rows == 0:
                raise InvalidInput(
                    f"the {side} table has no rows",
                    hint="drift needs data on both sides; widen the window or check the file",
                )
        kinds = {name: self._kind(name, reference, current) for name in names}

        def judge(name: str) -> ColumnDrift:
            return self._judge(name, kinds[name], reference.column(name), current.column(name))

        if self.workers > 1 and len(names) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                columns = tuple(pool.map(judge, names))
        else:
            columns = tuple(map(judge, names))
        if self.missing_threshold is not None:
            columns = tuple(_missing_rule(c, self.missing_threshold) for c in columns)
        return DriftReport(columns, self.drift_share, reference.num_rows, current.num_rows)

    def _column_names(self, reference: pa.Table, current: pa.Table) -> list[str]:
        if self.columns is not None:
            for side, table in (("reference", reference), ("current", current)):
                missing = [c for c in self.columns if c not in table.column_names]
                if missing:
                    raise InvalidInput(
                        f"the {side} table has no column {', '.join(map(repr, missing))}",
                        hint=f"its columns are: {', '.join(table.column_names)}",
                    )
            return list(dict.fromkeys(self.columns))
        only_ref = [c for c in reference.column_names if c not in current.column_names]
        only_cur = [c for c in current.column_names if c not in reference.column_names]
        if only_ref or only_cur:
            parts = []
            if only_ref:
                parts.append(f"only the reference has {', '.join(map(repr, only_ref))}")
            if only_cur:
                parts.append(f"only the current table has {', '.join(map(repr, only_cur))}")
            shared = [c for c in reference.column_names if c in current.column_names]
            raise InvalidInput(
                "the reference and current tables have different columns: " + "; ".join(parts),
                hint=f"compare the shared ones with --columns {','.join(shared)}"
                if shared
                else "the tables share no column; check that they describe the same data",
            )
        if not reference.column_names:
            raise InvalidInput("the tables have no columns to compare")
        return list(reference.column_names)

    def _kind(self, name: str, reference: pa.Table, current: pa.Table) -> str:
        ref_kind = column_kind(name, reference.schema.field(name).type)
        cur_kind = column_kind(name, current.schema.field(name).type)
        if name in self.categorical:
            return "categorical"
        if ref_kind and cur_kind and ref_kind != cur_kind:
            raise InvalidInput(
                f"column {name!r} is {ref_kind} in the reference "
                f"({reference.schema.field(name).type}) but {cur_kind} in the current table "
                f"({current.schema.field(name).type})",
                hint=f"fix the data, or compare it as categories with --categorical {name}",
            )
        return ref_kind or cur_kind or "categorical"

    def _judge(
        self, name: str, kind: str, reference: pa.ChunkedArray, current: pa.ChunkedArray
    ) -> ColumnDrift:
        if kind == "numeric":
            return self._judge_numeric(name, prepare_numeric(reference, current))
        return self._judge_categorical(name, prepare_categorical(reference, current))

    def _judge_numeric(self, name: str, column: NumericColumn) -> ColumnDrift:
        n_ref, n_cur = column.reference.size, column.current.size
        n_unique = column.n_unique()
        test = self.numeric_test or _default_test("numeric", n_ref, n_unique)
        plot = column.plot() if self.plots else None
        base = dict(
            name=name,
            kind="numeric",
            test=test,
            threshold=self.thresholds[test],
            n_reference=n_ref,
            n_current=n_cur,
            missing_reference=column.missing_reference,
            missing_current=column.missing_current,
            n_unique=n_unique,
            plot=plot,
        )
        if n_ref == 0 or n_cur == 0:
            return _empty_side(base, n_ref, n_cur)
        note = _small_note(n_ref, n_cur)
        if test in detectors.CATEGORICAL_TESTS:
            result = _COUNT_TESTS[test](*column.levels())
            if test in ("chi2", "chi2_gof") and n_unique > max(50, 0.5 * (n_ref + n_cur)):
                note = (
                    f"{test} over {n_unique:,} distinct values, mostly unique: counts of "
                    "values that occur once cannot show a shift of a continuous column "
                    "(use ks, psi or wasserstein_normed)"
                )
        else:
            result = _SORTED_TESTS[test](column.reference, column.current)
        return _verdict(base, result, note)

    def _judge_categorical(self, name: str, column: CategoricalColumn) -> ColumnDrift:
        n_ref, n_cur = int(column.reference_counts.sum()), int(column.current_counts.sum())
        n_unique = len(column.levels)
        test = self.categorical_test or _default_test("categorical", n_ref, n_unique)
        unseen_count, unseen_share = column.unseen()
        base = dict(
            name=name,
            kind="categorical",
            test=test,
            threshold=self.thresholds[test],
            n_reference=n_ref,
            n_current=n_cur,
            missing_reference=column.missing_reference,
            missing_current=column.missing_current,
            n_unique=n_unique,
            unseen_count=unseen_count,
            unseen_share=unseen_share,
            plot=column.plot() if self.plots else None,
        )
        if n_ref == 0 or n_cur == 0:
            return _empty_side(base, n_ref, n_cur)
        result = _COUNT_TESTS[test](column.reference_counts, column.current_counts)
        note = _small_note(n_ref, n_cur)
        if n_unique > HIGH_CARDINALITY and n_unique > 0.5 * (n_ref + n_cur):
            note = f"{n_unique} levels, mostly unique: an identifier rather than a feature?"
        return _verdict(base, result, note)


_SORTED_TESTS = {
    "ks": detectors.ks_sorted,
    "psi": detectors.psi_sorted,
    "wasserstein_normed": detectors.wasserstein_normed_sorted,
}
_COUNT_TESTS = {
    "chi2": detectors.chi2_counts,
    "chi2_gof": detectors.chi2_gof_counts,
    "jensenshannon": detectors.jensenshannon_counts,
    "z": detectors.z_counts,
}


def _default_test(kind: str, n_ref: int, n_unique: int) -> str:
    if kind == "numeric":
        if n_ref <= SMALL_REFERENCE:
            return "ks" if n_unique > 5 else ("chi2_gof" if n_unique > 2 else "z")
        return "wasserstein_normed" if n_unique > 5 else "jensenshannon"
    if n_ref <= SMALL_REFERENCE:
        return "chi2_gof" if n_unique > 2 else "z"
    return "jensenshannon"


def _missing_rule(column: ColumnDrift, threshold: float) -> ColumnDrift:
    change = column.missing_current - column.missing_reference
    if column.drifted or abs(change) <= threshold:
        return column
    said = f"missing values {column.missing_reference:.1%} → {column.missing_current:.1%} " + (
        f"(change above {threshold:.1%}): drifted"
    )
    note = f"{column.note}; {said}" if column.note else said
    return replace(column, drifted=True, note=note)


def _small_note(n_ref: int, n_cur: int) -> str | None:
    if min(n_ref, n_cur) < FEW_ROWS:
        fewest = min(n_ref, n_cur)
        return (
            f"only {fewest} value{'' if fewest == 1 else 's'} on one side: "
            "the test has little power"
        )
    return None


def _empty_side(base: dict[str, Any], n_ref: int, n_cur: int) -> ColumnDrift:
    """No values on one or both sides: no statistic, and a stated verdict instead of NaN."""
    if n_ref == 0 and n_cur == 0:
        note = "every value is missing in both tables: nothing to compare"
        drifted = False
    elif n_cur == 0:
        note = "every current value is missing while the reference has values"
        drifted = True
    else:
        note = "every reference value is missing while the current table has values"
        drifted = True
    return ColumnDrift(statistic=None, p_value=None, drifted=drifted, note=note, **base)


def _verdict(base: dict[str, Any], result: detectors.TestResult, note: str | None) -> ColumnDrift:
    test, threshold = base["test"], base["threshold"]
    statistic, p_value = result.statistic, result.p_value
    if math.isnan(statistic) or (p_value is not None and math.isnan(p_value)):
        # Never let an undefined test read as "no drift".
        return ColumnDrift(
            statistic=None,
            p_value=None,
            drifted=True,
            note=f"{test} is undefined on this data (NaN); treated as drifted",
            **base,
        )
    if test in detectors.DISTANCE_TESTS:
        drifted = statistic >= threshold
    else:
        assert p_value is not None
        drifted = p_value <= threshold if test == "ks" else p_value < threshold
    if math.isinf(statistic) and note is None:
        note = "current values hold levels the reference never had"
    return ColumnDrift(statistic=statistic, p_value=p_value, drifted=drifted, note=note, **base)
