"""A/B statistics against the worked numbers of the reference and against simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopline.core.errors import InvalidInput
from loopline.rollout.statistics import (
    compare_means,
    compare_rates,
    holm_adjust,
    msprt,
    sample_ratio_mismatch,
    summarise_mean,
    summarise_rate,
)


def test_two_proportion_z_test_matches_the_reference() -> None:
    result = compare_rates(1000, 10000, 1100, 10000)
    assert result.statistic == pytest.approx(2.30663, abs=1e-5)
    assert result.p_value == pytest.approx(0.021075, abs=1e-6)
    assert result.absolute_lift == pytest.approx(0.01)
    assert result.absolute_ci == pytest.approx((0.001504, 0.018496), abs=1e-6)
    assert result.relative_lift == pytest.approx(0.1)


def test_welch_t_test_matches_the_reference() -> None:
    a = summarise_mean(10.0, 2.0, 100)
    b = summarise_mean(10.8, 3.0, 120)
    result = compare_means(a, b)
    assert result.statistic == pytest.approx(2.35907, abs=1e-5)
    assert result.p_value == pytest.approx(0.019245, abs=1e-6)
    assert result.test == "Welch's t-test"
    # Delta-method relative lift: 0.08 with variance s_B²/(m_A² n_B) + s_A² m_B²/(m_A⁴ n_A).
    variance = 9 / (100 * 120) + 4 * 10.8**2 / (10**4 * 100)
    assert result.relative_lift == pytest.approx(0.08)
    assert result.relative_ci is not None
    assert result.relative_ci[1] - 0.08 == pytest.approx(1.959964 * variance**0.5, rel=1e-5)


@pytest.mark.parametrize(
    ("tau2", "p_value", "interval"),
    [
        (1e-4, 0.26765, (-0.003225, 0.023225)),
        (2.5e-5, 0.33416, (-0.005001, 0.025001)),
        (1e-5, 0.49119, (-0.008633, 0.028633)),
    ],
)
def test_msprt_matches_the_reference(
    tau2: float, p_value: float, interval: tuple[float, float]
) -> None:
    p, ci = msprt(0.01, 1.879e-5, tau2=tau2)
    assert p == pytest.approx(p_value, abs=1e-5)
    assert ci == pytest.approx(interval, abs=1e-6)


def test_msprt_p_value_never_rises_between_looks() -> None:
    first, _ = msprt(0.02, 1e-5, tau2=1e-4)
    later, _ = msprt(0.0, 1e-5, tau2=1e-4, previous_p=first)
    assert later == first


def test_holm_matches_the_reference() -> None:
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([]) == []


@pytest.mark.parametrize(
    ("counts", "weights", "p_value", "mismatch"),
    [
        ((5200, 4800), (50, 50), 6.334e-05, True),
        ((50500, 49500), (50, 50), 1.565e-03, False),
        ((10150, 9850), (50, 50), 0.0339, False),
        ((3400, 3300, 3300), (1, 1, 1), 0.3679, False),
        ((9200, 800), (90, 10), 2.617e-11, True),
    ],
)
def test_sample_ratio_mismatch_matches_the_reference(
    counts: tuple[int, ...], weights: tuple[int, ...], p_value: float, mismatch: bool
) -> None:
    check = sample_ratio_mismatch(counts, weights)
    assert check.p_value == pytest.approx(p_value, rel=1e-3)
    assert check.mismatch is mismatch


def test_wilson_interval_stays_inside_zero_and_one() -> None:
    arm = summarise_rate(0, 20)
    assert arm.ci_low == 0.0
    assert 0.0 < arm.ci_high < 0.2


def test_identical_degenerate_arms_are_not_a_difference() -> None:
    assert compare_rates(0, 100, 0, 100).p_value == 1.0
    a = summarise_mean(5.0, 0.0, 10)
    assert compare_means(a, a).p_value == 1.0


def test_degenerate_arms_give_no_sequential_evidence_and_no_zero_width_interval() -> None:
    one = compare_rates(1, 1, 0, 1)  # 1/1 against 0/1: no spread in either arm
    assert one.sequential_p_value > 0.05
    assert one.sequential_p_value >= one.p_value
    low, high = one.absolute_ci
    assert high - low > 1.0  # two units say almost nothing
    assert msprt(0.5, 0.0, tau2=1e-4, previous_p=0.3) == (0.3, (-math.inf, math.inf))
    many = compare_rates(1000, 1000, 0, 1000)  # the same shape with many units is real
    assert many.sequential_p_value < 0.001 and many.absolute_ci[1] < -0.9


@pytest.mark.parametrize(
    "call",
    [
        lambda: summarise_rate(5, 0),
        lambda: summarise_rate(11, 10),
        lambda: compare_rates(1, 10, 1, 10, alpha=1.5),
        lambda: compare_means(summarise_mean(1, 1, 1), summarise_mean(1, 1, 5)),
        lambda: sample_ratio_mismatch([10, 10], [50]),
        lambda: sample_ratio_mismatch([0, 0], [50, 50]),
        lambda: msprt(0.1, 1.0, tau2=0),
    ],
)
def test_bad_input_is_a_clear_error(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


def test_a_a_false_positive_rate_is_near_alpha_and_peeking_stays_safe() -> None:
    rng = np.random.default_rng(7)
    fixed, peeking = 0, 0
    runs = 300
    for _ in range(runs):
        a = rng.random(4000) < 0.1
        b = rng.random(4000) < 0.1
        fixed += compare_rates(int(a.sum()), 4000, int(b.sum()), 4000).p_value < 0.05
        p = 1.0
        for look in range(400, 4001, 400):  # ten looks, as a daily check would
            xa, xb = int(a[:look].sum()), int(b[:look].sum())
            p = compare_rates(xa, look, xb, look, tau2=1e-4).sequential_p_value if p > 0.05 else p
        peeking += p < 0.05
    assert 0.02 <= fixed / runs <= 0.09
    assert peeking / runs <= 0.05


def test_a_planted_lift_is_found() -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    a = rng.random(n) < 0.20
    b = rng.random(n) < 0.21  # a 5% relative lift
    result = compare_rates(int(a.sum()), n, int(b.sum()), n)
    assert result.p_value < 0.05
    assert result.relative_ci is not None and result.relative_ci[0] > 0
