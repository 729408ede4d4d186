"""A/B test statistics: pure functions over counts and moments, p-values from scipy.

Every function here takes summary numbers (counts, means, standard deviations) so the same code
judges a table of outcomes, an inference log window or a canary step. Definitions follow the
reference values in the project's progressive-delivery notes:

- rates: pooled two-proportion z-test (two-sided), unpooled CI of the difference, Wilson CI per arm;
- means: Welch's t-test (``scipy.stats.ttest_ind_from_stats(equal_var=False)``), t CI per arm;
- relative lift: delta-method variance ``s_B²/(m_A² n_B) + s_A² m_B²/(m_A⁴ n_A)``;
- always-valid inference: mSPRT with a normal mixing prior N(0, τ²) (Johari et al.), whose p-value
  may be checked after every new observation without inflating false positives;
- multiple metrics: Holm's step-down adjustment;
- sample-ratio mismatch: chi-square goodness of fit of assignment counts against the weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from loopline.core.errors import InvalidInput

__all__ = [
    "SRM_ALPHA",
    "ArmSummary",
    "Comparison",
    "SampleRatioCheck",
    "compare_means",
    "compare_rates",
    "holm_adjust",
    "msprt",
    "sample_ratio_mismatch",
    "summarise_mean",
    "summarise_rate",
]

# GrowthBook's default: a mismatch is called only at p < 0.001, as the check runs on every look.
SRM_ALPHA = 0.001


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One variant's outcome: n units, their mean (a rate for 0/1 outcomes) and its interval."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """Treatment against control: lifts, their intervals and the two p-values."""

    absolute_lift: float
    absolute_ci: tuple[float, float]
    relative_lift: float | None
    relative_ci: tuple[float, float] | None
    statistic: float
    p_value: float
    test: str
    sequential_p_value: float
    sequential_ci: tuple[float, float]


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    mismatch: bool


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"alpha must be between 0 and 1, got {alpha}")


def summarise_rate(successes: int, n: int, *, alpha: float = 0.05) -> ArmSummary:
    """A conversion-style arm: the rate and its Wilson score interval."""
    _check_alpha(alpha)
    if n <= 0:
        raise InvalidInput("a variant has no units: its rate is undefined")
    if not 0 <= successes <= n:
        raise InvalidInput(f"successes ({successes}) must lie between 0 and n ({n})")
    rate = successes / n
    interval = stats.binomtest(successes, n).proportion_ci(1 - alpha, method="wilson")
    return ArmSummary(n, rate, math.sqrt(rate * (1 - rate)), interval.low, interval.high)


def summarise_mean(mean: float, std: float, n: int, *, alpha: float = 0.05) -> ArmSummary:
    """A continuous arm: the mean and its Student t interval (sample standard deviation)."""
    _check_alpha(alpha)
    if n <= 0:
        raise InvalidInput("a variant has no units: its mean is undefined")
    if n == 1:
        return ArmSummary(n, mean, std, -math.inf, math.inf)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * std / math.sqrt(n)
    return ArmSummary(n, mean, std, mean - half, mean + half)


def _relative(
    m_a: float, var_a: float, m_b: float, var_b: float, z: float
) -> tuple[float | None, tuple[float, float] | None]:
    # var_* are variances of the arm means (s²/n); undefined when the control mean is zero.
    if m_a == 0:
        return None, None
    lift = m_b / m_a - 1
    variance = var_b / m_a**2 + var_a * m_b**2 / m_a**4
    half = z * math.sqrt(variance)
    return lift, (lift - half, lift + half)


def compare_rates(
    x_a: int, n_a: int, x_b: int, n_b: int, *, alpha: float = 0.05, tau2: float = 1e-4
) -> Comparison:
    """Two-proportion z-test (pooled, two-sided) of B's rate against A's."""
    _check_alpha(alpha)
    for x, n in ((x_a, n_a), (x_b, n_b)):
        if n <= 0 or not 0 <= x <= n:
            raise InvalidInput(f"a rate needs 0 <= successes <= n and n > 0, got {x}/{n}")
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    var_a, var_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
    diff = p_b - p_a
    if se_pooled == 0:
        z, p_value = 0.0, 1.0  # both arms all 0 or all 1: no evidence of a difference
    else:
        z = diff / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z)))
    crit = float(stats.norm.ppf(1 - alpha / 2))
    # Arms that are all 0 or all 1 (1/1 vs 0/1) have no unpooled variance: the pooled one
    # keeps their interval honest (wide for few units) instead of zero-width.
    variance = var_a + var_b if var_a + var_b > 0 else se_pooled**2
    half = crit * math.sqrt(variance) if variance > 0 else math.inf
    relative, relative_ci = _relative(p_a, var_a, p_b, var_b, crit)
    seq_p, seq_ci = msprt(diff, variance, tau2=tau2, alpha=alpha)
    seq_p = max(seq_p, p_value)  # a sequential p-value is never below the fixed-horizon one
    return Comparison(
        diff, (diff - half, diff + half), relative, relative_ci, z, p_value,
        "two-proportion z-test", seq_p, seq_ci,
    )  # fmt: skip


def compare_means(
    a: ArmSummary, b: ArmSummary, *, alpha: float = 0.05, tau2: float | None = None
) -> Comparison:
    """Welch's t-test of B's mean against A's (unequal variances, Welch-Satterthwaite df).

    ``tau2`` is the mSPRT mixing variance; by default the squared tenth of the control's standard
    deviation, i.e. tuned to detect effects of about 0.1 standard deviations.
    """
    _check_alpha(alpha)
    if a.n < 2 or b.n < 2:
        raise InvalidInput("Welch's t-test needs at least 2 units per variant")
    result = stats.ttest_ind_from_stats(b.mean, b.std, b.n, a.mean, a.std, a.n, equal_var=False)
    var_a, var_b = a.std**2 / a.n, b.std**2 / b.n
    diff = b.mean - a.mean
    statistic, p_value = float(result.statistic), float(result.pvalue)
    if var_a + var_b == 0:  # constant arms: no spread to judge a difference by
        statistic, p_value = 0.0, 1.0 if diff == 0 else 0.0
        half = math.inf
    else:
        df = (var_a + var_b) ** 2 / (var_a**2 / (a.n - 1) + var_b**2 / (b.n - 1))
        half = float(stats.t.ppf(1 - alpha / 2, df)) * math.sqrt(var_a + var_b)
    crit = float(stats.norm.ppf(1 - alpha / 2))
    relative, relative_ci = _relative(a.mean, var_a, b.mean, var_b, crit)
    if tau2 is None:
        tau2 = max((0.1 * a.std) ** 2, 1e-12)
    seq_p, seq_ci = msprt(diff, var_a + var_b, tau2=tau2, alpha=alpha)
    seq_p = max(seq_p, p_value) if var_a + var_b > 0 else seq_p
    return Comparison(
        diff, (diff - half, diff + half), relative, relative_ci, statistic, p_value,
        "Welch's t-test", seq_p, seq_ci,
    )  # fmt: skip


def msprt(
    estimate: float,
    variance: float,
    *,
    tau2: float,
    alpha: float = 0.05,
    previous_p: float = 1.0,
) -> tuple[float, tuple[float, float]]:
    """Always-valid p-value and confidence sequence of one look (mSPRT, N(0, τ²) mixture).

    ``previous_p`` is the p-value of the previous look: the always-valid p-value is the running
    minimum of 1/Λ over looks, so a caller that peeks daily passes yesterday's value.
    """
    _check_alpha(alpha)
    if tau2 <= 0:
        raise InvalidInput(f"the mSPRT mixing variance tau2 must be positive, got {tau2}")
    if not (variance > 0 and math.isfinite(variance) and math.isfinite(estimate)):
        # No spread (1/1 vs 0/1) or no estimate: this look adds no evidence, and the
        # confidence sequence is unbounded rather than a zero-width interval.
        return min(previous_p, 1.0), (-math.inf, math.inf)
    total = variance + tau2
    log_lambda = 0.5 * math.log(variance / total) + tau2 * estimate**2 / (2 * variance * total)
    p_value = min(previous_p, 1.0, math.exp(-log_lambda))
    half = math.sqrt(variance * total / tau2 * (math.log(total / variance) - 2 * math.log(alpha)))
    return p_value, (estimate - half, estimate + half)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the input's order (controls the family-wise error rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def sample_ratio_mismatch(
    counts: Sequence[int], weights: Sequence[float], *, alpha: float = SRM_ALPHA
) -> SampleRatioCheck:
    """Chi-square goodness of fit of assignment counts against the configured weights."""
    if len(counts) != len(weights) or len(counts) < 2:
        raise InvalidInput("the sample-ratio check needs one weight per variant, two or more")
    if any(w <= 0 for w in weights):
        raise InvalidInput(f"every weight must be positive for a sample-ratio check, got {weights}")
    total = sum(counts)
    if total == 0:
        raise InvalidInput("no units were assigned: the sample-ratio check needs counts")
    expected = [total * w / sum(weights) for w in weights]
    result = stats.chisquare(list(counts), expected)
    p_value = float(result.pvalue)
    return SampleRatioCheck(
        tuple(counts), tuple(expected), float(result.statistic), p_value, p_value < alpha
    )
