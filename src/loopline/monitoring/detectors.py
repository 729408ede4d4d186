"""Drift statistics: pure functions over arrays, p-values from SciPy.

Every public test takes a reference and a current sample (NumPy arrays or anything
``numpy.asarray`` accepts) and returns a :class:`TestResult`. Missing values (NaN, None, and for
numbers also ±inf) are dropped per column first. Definitions:

- ``ks``: ``scipy.stats.ks_2samp(ref, cur)`` with its default method; statistic D and p-value.
- ``psi``: population stability index over reference-quantile bins. Edges are
  ``numpy.unique(numpy.quantile(ref, numpy.arange(1, 10) / 10))``; bin 0 is ``(-inf, e1)``, bin i
  is ``[e_i, e_i+1)``, the last ``[e_k, +inf)`` (ties go right); a share of exactly 0 becomes 1e-4
  (no renormalising); ``PSI = Σ (c - r)·ln(c / r)``.
- ``wasserstein_normed``: ``wasserstein_distance(ref, cur) / max(std(ref, ddof=0), 0.001)``.
- ``chi2``: chi-square test of homogeneity on the 2 x k table of level counts over the union of
  levels (``chi2_contingency(..., correction=False)``).
- ``chi2_gof``: goodness of fit of the current counts to the reference shares,
  ``chisquare(cur_counts, ref_counts * n_cur / n_ref)`` (Evidently's categorical test).
- ``jensenshannon``: ``scipy.spatial.distance.jensenshannon`` of the level shares over the union
  of levels, natural log.
- ``z``: pooled two-proportion z-test on the share of the first (sorted) level, two-sided
  (Evidently's test for columns with at most two values).

The ``*_sorted`` and ``*_counts`` variants take already cleaned, sorted arrays or aligned level
counts, so a report sorts each column once and shares the work between tests and plots.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CATEGORICAL_TESTS",
    "DISTANCE_TESTS",
    "NUMERIC_TESTS",
    "PSI_FLOOR",
    "TestResult",
    "chi2",
    "chi2_counts",
    "chi2_gof",
    "chi2_gof_counts",
    "clean_categorical",
    "clean_numeric",
    "jensenshannon",
    "jensenshannon_counts",
    "ks",
    "ks_sorted",
    "level_counts",
    "missing_share",
    "psi",
    "psi_edges",
    "psi_sorted",
    "unseen_levels",
    "wasserstein_normed",
    "wasserstein_normed_sorted",
    "z",
    "z_counts",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# A sample: an array, or a sequence that may hold None for missing values.
Sample = npt.ArrayLike | Sequence[Any]

PSI_FLOOR = 1e-4
# Tests on the values of a numeric column; the categorical tests also apply to numeric columns
# with few distinct values (their values are then treated as levels).
NUMERIC_TESTS = ("ks", "psi", "wasserstein_normed")
CATEGORICAL_TESTS = ("chi2", "chi2_gof", "jensenshannon", "z")
# Tests whose value is a distance (drift when value >= threshold); the rest give p-values.
DISTANCE_TESTS = frozenset({"psi", "wasserstein_normed", "jensenshannon"})


@dataclass(frozen=True)
class TestResult:
    """A statistic and, for hypothesis tests, its p-value (``None`` for distances)."""

    statistic: float
    p_value: float | None = None


def missing_share(values: Sample) -> float:
    """Share of missing values (None, NaN, ±inf for numbers); 0.0 for an empty array."""
    array = np.asarray(values)
    if array.size == 0:
        return 0.0
    return float(np.count_nonzero(_missing_mask(array))) / array.size


def _missing_mask(array: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if array.dtype.kind in "fc":
        finite: npt.NDArray[np.bool_] = np.isfinite(array)
        return ~finite
    if array.dtype.kind in "iub":
        return np.zeros(array.shape, dtype=bool)
    mask: npt.NDArray[np.bool_] = np.array(
        [v is None or (isinstance(v, float) and not math.isfinite(v)) for v in array.ravel()],
        dtype=bool,
    ).reshape(array.shape)
    return mask


def clean_numeric(values: Sample) -> FloatArray:
    """The finite values as sorted float64 (NaN, None and ±inf dropped)."""
    array = np.asarray(values)
    if array.dtype.kind == "O":
        array = np.array([np.nan if v is None else v for v in array.ravel()], dtype=np.float64)
    array = np.asarray(array, dtype=np.float64).ravel()
    return np.sort(array[np.isfinite(array)])


def clean_categorical(values: Sample) -> npt.NDArray[Any]:
    """The non-missing values (None and NaN dropped)."""
    array = np.asarray(values).ravel()
    return array[~_missing_mask(array)]


# ---------------------------------------------------------------- numeric tests (sorted input)


def ks_sorted(ref: FloatArray, cur: FloatArray) -> TestResult:
    from scipy.stats import ks_2samp

    result = ks_2samp(ref, cur)
    return TestResult(float(result.statistic), float(result.pvalue))


def wasserstein_normed_sorted(ref: FloatArray, cur: FloatArray) -> TestResult:
    """W1 between sorted samples via their quantile functions, O(n + m) after sorting.

    Equal to ``scipy.stats.wasserstein_distance`` (the same integral of |F - G|, summed over the
    merged grid of probability steps i/n and j/m instead of the merged values) without sorting
    the union of both samples.
    """
    n, m = ref.size, cur.size
    if n == m:
        distance = float(np.mean(np.abs(ref - cur)))
    else:
        widths, ref_index, cur_index = _quantile_grid(n, m)
        total = np.dot(widths, np.abs(ref[ref_index] - cur[cur_index]))
        distance = float(total) / (n * m)
    return TestResult(distance / max(float(np.std(ref)), 0.001))


@functools.lru_cache(maxsize=2)
def _quantile_grid(n: int, m: int) -> tuple[IntArray, IntArray, IntArray]:
    """Widths and quantile indices of the merged probability grid of two sample sizes.

    Steps i/n and j/m, scaled by n·m to the integers i·m and j·n, are placed in merged order by
    counting the other side's steps below each (ties: reference first). On (g_k-1, g_k] the
    reference quantile is ref[ceil(g_k / m) - 1] and the current one cur[ceil(g_k / n) - 1].
    Cached: the columns of one table pair usually share their sizes.
    """
    i = np.arange(1, n + 1, dtype=np.int64)
    j = np.arange(1, m + 1, dtype=np.int64)
    grid = np.empty(n + m, dtype=np.int64)
    grid[i - 1 + (i * m - 1) // n] = i * m
    grid[j - 1 + (j * n) // m] = j * n
    widths = np.diff(grid, prepend=0)
    ref_index = (grid + m - 1) // m - 1
    cur_index = (grid + n - 1) // n - 1
    for array in (widths, ref_index, cur_index):
        array.flags.writeable = False
    return widths, ref_index, cur_index


def psi_edges(ref: FloatArray) -> FloatArray:
    """Bin edges: the distinct reference deciles (linear method)."""
    edges: FloatArray = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    return edges


def psi_sorted(ref: FloatArray, cur: FloatArray) -> TestResult:
    edges = psi_edges(ref)
    ref_share = _bin_counts_sorted(ref, edges) / ref.size
    cur_share = _bin_counts_sorted(cur, edges) / cur.size
    ref_share[ref_share == 0] = PSI_FLOOR
    cur_share[cur_share == 0] = PSI_FLOOR
    return TestResult(float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share))))


def _bin_counts_sorted(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Counts per bin [e_i, e_i+1) with open ends (``searchsorted(edges, v, "right")``)."""
    below = np.searchsorted(values, edges, side="left")  # values < e_i
    return np.diff(below, prepend=0, append=values.size).astype(np.float64)


# ------------------------------------------------------------- categorical tests (level counts)


def level_counts(reference: Sample, current: Sample) -> tuple[npt.NDArray[Any], IntArray, IntArray]:
    """Sorted union of the levels seen in either sample and the count of each level per sample."""
    ref = clean_categorical(reference)
    cur = clean_categorical(current)
    levels, inverse = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    inverse = inverse.ravel()
    ref_counts = np.bincount(inverse[: ref.size], minlength=levels.size).astype(np.int64)
    cur_counts = np.bincount(inverse[ref.size :], minlength=levels.size).astype(np.int64)
    return levels, ref_counts, cur_counts


def chi2_counts(ref_counts: IntArray, cur_counts: IntArray) -> TestResult:
    from scipy.stats import chi2_contingency

    result = chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
    return TestResult(float(result.statistic), float(result.pvalue))


def chi2_gof_counts(ref_counts: IntArray, cur_counts: IntArray) -> TestResult:
    """Goodness of fit; a level unseen in the reference gives statistic inf and p = 0."""
    from scipy.stats import chisquare

    if ref_counts.size == 1:
        # One level in both samples: nothing differs (SciPy would answer p = NaN for 0 dof).
        return TestResult(0.0, 1.0)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    expected = ref_counts * (n_cur / n_ref)
    if np.any((expected == 0) & (cur_counts > 0)):
        return TestResult(math.inf, 0.0)
    seen = expected > 0
    # SciPy checks that observed and expected totals agree to 1e-8 relative; they do by design.
    result = chisquare(cur_counts[seen], expected[seen])
    return TestResult(float(result.statistic), float(result.pvalue))


def jensenshannon_counts(ref_counts: IntArray, cur_counts: IntArray) -> TestResult:
    """``scipy.spatial.distance.jensenshannon`` (natural log), step for step.

    Written out with ``scipy.special.rel_entr`` as SciPy does it, because importing
    ``scipy.spatial`` costs a second of start-up for one small function.
    """
    from scipy.special import rel_entr

    p = ref_counts / np.sum(ref_counts)
    q = cur_counts / np.sum(cur_counts)
    m = (p + q) / 2.0
    js = np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))
    return TestResult(float(np.sqrt(js / 2.0)))


def z_counts(ref_counts: IntArray, cur_counts: IntArray) -> TestResult:
    """Pooled two-proportion z-test on the share of the first level; p = 2 * sf(|z|)."""
    from scipy.stats import norm

    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    x_ref, x_cur = int(ref_counts[0]), int(cur_counts[0])
    pooled = (x_ref + x_cur) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if se == 0:
        return TestResult(0.0, 1.0)  # every value in both samples is the same level
    statistic = (x_ref / n_ref - x_cur / n_cur) / se
    return TestResult(statistic, float(2 * norm.sf(abs(statistic))))


def unseen_levels(reference: Sample, current: Sample) -> tuple[int, float]:
    """How many current values (and what share of them) hold a level the reference never had."""
    levels, ref_counts, cur_counts = level_counts(reference, current)
    del levels
    unseen = int(cur_counts[ref_counts == 0].sum())
    total = int(cur_counts.sum())
    return unseen, (unseen / total if total else 0.0)


# ------------------------------------------------------------------ tests over raw samples


def _numeric(reference: Sample, current: Sample) -> tuple[FloatArray, FloatArray]:
    from loopline.core.errors import InvalidInput

    ref, cur = clean_numeric(reference), clean_numeric(current)
    if ref.size == 0 or cur.size == 0:
        side = "reference" if ref.size == 0 else "current"
        raise InvalidInput(
            f"the {side} sample has no values left after dropping missing ones",
            hint="a drift test needs at least one value on each side",
        )
    return ref, cur


def _counts(reference: Sample, current: Sample) -> tuple[IntArray, IntArray]:
    from loopline.core.errors import InvalidInput

    _, ref_counts, cur_counts = level_counts(reference, current)
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        side = "reference" if ref_counts.sum() == 0 else "current"
        raise InvalidInput(
            f"the {side} sample has no values left after dropping missing ones",
            hint="a drift test needs at least one value on each side",
        )
    return ref_counts, cur_counts


def ks(reference: Sample, current: Sample) -> TestResult:
    return ks_sorted(*_numeric(reference, current))


def psi(reference: Sample, current: Sample) -> TestResult:
    return psi_sorted(*_numeric(reference, current))


def wasserstein_normed(reference: Sample, current: Sample) -> TestResult:
    return wasserstein_normed_sorted(*_numeric(reference, current))


def chi2(reference: Sample, current: Sample) -> TestResult:
    return chi2_counts(*_counts(reference, current))


def chi2_gof(reference: Sample, current: Sample) -> TestResult:
    return chi2_gof_counts(*_counts(reference, current))


def jensenshannon(reference: Sample, current: Sample) -> TestResult:
    return jensenshannon_counts(*_counts(reference, current))


def z(reference: Sample, current: Sample) -> TestResult:
    return z_counts(*_counts(reference, current))
