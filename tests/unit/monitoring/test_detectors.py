"""The drift tests equal SciPy's direct calls, on random data with ties and missing values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js

from loopline.core.errors import InvalidInput
from loopline.monitoring import detectors as d

RTOL = 1e-9


def _samples(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 400, size=2)
    # Rounded values give many ties; a few NaN and inf are dropped before testing.
    ref = np.round(rng.normal(0, 1, n), 1)
    cur = np.round(rng.normal(rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2), m), 1)
    ref[rng.random(n) < 0.05] = np.nan
    cur[rng.random(m) < 0.05] = np.inf
    return ref, cur


def _finite(values: np.ndarray) -> np.ndarray:
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def _close(actual: float | None, expected: float) -> None:
    assert actual is not None
    assert actual == pytest.approx(float(expected), rel=RTOL, abs=1e-300)


@pytest.mark.parametrize("seed", range(25))
def test_numeric_tests_equal_scipy(seed: int) -> None:
    ref, cur = _samples(seed)
    r, c = _finite(ref), _finite(cur)
    if r.size == 0 or c.size == 0:
        pytest.skip("a side drew only missing values")
    expected = stats.ks_2samp(r, c)
    result = d.ks(ref, cur)
    _close(result.statistic, expected.statistic)
    _close(result.p_value, expected.pvalue)
    wasserstein = stats.wasserstein_distance(r, c) / max(np.std(r, ddof=0), 0.001)
    _close(d.wasserstein_normed(ref, cur).statistic, wasserstein)
    assert d.wasserstein_normed(ref, cur).p_value is None


def test_wasserstein_on_large_unequal_samples_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(size=20_000), rng.standard_t(3, size=13_337)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    _close(d.wasserstein_normed(ref, cur).statistic, expected)


def test_wasserstein_of_a_constant_reference_uses_the_floor() -> None:
    assert d.wasserstein_normed([2.0] * 5, [3.0] * 4).statistic == pytest.approx(1000.0)


def test_reference_worked_values() -> None:
    # Ref [1..5] vs cur [2..6]: Wasserstein normed 1/sqrt(2).
    _close(d.wasserstein_normed([1, 2, 3, 4, 5], [2, 3, 4, 5, 6]).statistic, 1 / math.sqrt(2))
    # Counts [50,30,20] vs [40,30,30]: GOF chi2 = 7.0 (p = 0.030197), contingency 3.1111.
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    cur = ["a"] * 40 + ["b"] * 30 + ["c"] * 30
    gof = d.chi2_gof(ref, cur)
    assert gof.statistic == pytest.approx(7.0) and gof.p_value == pytest.approx(0.030197, abs=1e-6)
    assert d.chi2(ref, cur).statistic == pytest.approx(3.1111, abs=1e-4)
    # Shares .25 x4 vs .1,.2,.3,.4: JS (natural log) 0.166930.
    js = d.jensenshannon(list("abcd") * 10, ["a"] * 1 + ["b"] * 2 + ["c"] * 3 + ["d"] * 4)
    assert js.statistic == pytest.approx(0.166930, abs=1e-6)
    # Proportions 30/100 vs 45/100: z = -2.19089, p = 0.028460.
    z = d.z(["a"] * 30 + ["b"] * 70, ["a"] * 45 + ["b"] * 55)
    assert z.statistic == pytest.approx(-2.19089, abs=1e-5)
    assert z.p_value == pytest.approx(0.028460, abs=1e-6)


@pytest.mark.parametrize("seed", range(15))
def test_categorical_tests_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    levels = np.array(["a", "b", "c", "d", "e"], dtype=object)
    ref = rng.choice(levels[:4], size=int(rng.integers(20, 300)), p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(levels[:4], size=int(rng.integers(20, 300)))
    ref[::17] = None
    names, ref_counts, cur_counts = d.level_counts(ref, cur)
    assert list(names) == ["a", "b", "c", "d"]
    assert ref_counts.sum() == np.count_nonzero(ref != None)  # noqa: E711
    expected = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
    result = d.chi2(ref, cur)
    _close(result.statistic, expected.statistic)
    _close(result.p_value, expected.pvalue)
    n_ref, n_cur = ref_counts.sum(), cur_counts.sum()
    expected_gof = stats.chisquare(cur_counts, ref_counts * n_cur / n_ref)
    gof = d.chi2_gof(ref, cur)
    _close(gof.statistic, expected_gof.statistic)
    _close(gof.p_value, expected_gof.pvalue)
    js = scipy_js(ref_counts / n_ref, cur_counts / n_cur)
    _close(d.jensenshannon(ref, cur).statistic, js)


def test_a_level_unseen_in_the_reference_is_certain_drift_for_gof() -> None:
    result = d.chi2_gof(["a", "b"] * 10, ["a", "b", "new"] * 5)
    assert result.statistic == math.inf and result.p_value == 0.0
    count, share = d.unseen_levels(["a", "b"] * 10, ["a", "b", "new", None])
    assert count == 1 and share == pytest.approx(1 / 3)


def test_one_shared_level_is_no_drift_not_nan() -> None:
    for test in (d.chi2, d.chi2_gof, d.z):
        result = test(["x"] * 5, ["x"] * 3)
        assert result.p_value == 1.0, test


def test_missing_share_counts_none_nan_and_inf() -> None:
    assert d.missing_share([1.0, np.nan, np.inf, 2.0]) == 0.5
    assert d.missing_share(np.array(["a", None, "b", None], dtype=object)) == 0.5
    assert d.missing_share([]) == 0.0


def test_an_empty_side_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="current sample has no values"):
        d.ks([1.0, 2.0], [np.nan])
    with pytest.raises(InvalidInput, match="reference sample has no values"):
        d.chi2([None], ["a"])


# PSI: edges are the distinct reference deciles, ties go right, empty shares become 1e-4.


def test_psi_bins_by_hand() -> None:
    ref = np.arange(1.0, 11.0)  # deciles 1.9, 2.8, ..., 9.1: ten bins of one value each
    np.testing.assert_allclose(d.psi_edges(ref), np.arange(1, 10) * 0.9 + 1)
    cur = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    # Shares: ref 0.1 in each bin; cur 0.5 in bin 0 and bin 9, 0 (→ 1e-4) in the eight others.
    expected = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert d.psi(ref, cur).statistic == pytest.approx(expected, rel=RTOL)


def test_psi_ties_go_right_and_duplicate_edges_collapse() -> None:
    # Eleven values: the deciles are ref[1..9] exactly, 0 five times then 1: edges [0, 1].
    ref = np.array([0.0] * 6 + [1.0] * 5)
    edges = d.psi_edges(ref)
    np.testing.assert_array_equal(edges, [0.0, 1.0])
    # Bins: (-inf, 0), [0, 1), [1, inf). A value equal to an edge goes to the bin on its right.
    cur = np.array([0.0, 0.0, 1.0, 1.0, -1.0])
    ref_share = np.array([1e-4, 6 / 11, 5 / 11])  # no value below 0: floored, not renormalised
    cur_share = np.array([0.2, 0.4, 0.4])
    expected = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    assert d.psi(ref, cur).statistic == pytest.approx(expected, rel=RTOL)
    # The same rule written with searchsorted(side="right") over unsorted values.
    bins = np.searchsorted(edges, cur, side="right")
    np.testing.assert_array_equal(np.bincount(bins, minlength=3) / cur.size, cur_share)


def test_psi_of_identical_samples_is_zero() -> None:
    values = np.random.default_rng(3).normal(size=500)
    assert d.psi(values, values).statistic == 0.0
