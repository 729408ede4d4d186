"""Canary checks: each judges one analysis window of the candidate against the champion.

A check takes its limits in ``__init__`` and answers in :meth:`evaluate` with a
:class:`CheckResult` whose ``passed`` is ``True``, ``False``, or ``None`` when the window holds too
little data to decide (the controller waits for more, up to a deadline, then counts a failure).
Besides Flagger's HTTP checks (error rate, latency), the ML-aware ones compare the models
themselves: prediction drift of the candidate against the champion, accuracy on labelled
feedback, and disagreement on shadow traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = [
    "AccuracyDeltaCheck",
    "CanaryWindow",
    "Check",
    "CheckResult",
    "ErrorRateCheck",
    "LatencyCheck",
    "PredictionDriftCheck",
    "ShadowDisagreementCheck",
    "VariantWindow",
]


@dataclass(frozen=True)
class VariantWindow:
    """What one variant did during the window."""

    requests: int = 0
    errors: int = 0
    latency_p99_ms: float | None = None
    predictions: np.ndarray | None = None  # one value per logged row (classes or numbers)
    labels: np.ndarray | None = None  # true labels of the labelled rows...
    labelled_predictions: np.ndarray | None = None  # ...and what the variant predicted for them


@dataclass(frozen=True)
class CanaryWindow:
    since: float
    until: float
    candidate: VariantWindow
    champion: VariantWindow
    # Shadow traffic: the champion's and the candidate's answers to the same requests.
    shadow_pairs: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    limit: float
    passed: bool | None
    samples: int
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "value": self.value,
            "limit": self.limit,
            "passed": self.passed,
            "samples": self.samples,
            "detail": self.detail,
        }


class Check(Protocol):
    name: str
    # Compares the candidate with the champion on the same window: meaningless once the
    # champion gets no traffic (a 100% step), where the controller leaves it out.
    comparative: bool

    def evaluate(self, window: CanaryWindow) -> CheckResult: ...


def _too_few(name: str, limit: float, samples: int, minimum: int, what: str) -> CheckResult:
    return CheckResult(name, None, limit, None, samples, f"too few {what}: {samples} < {minimum}")


class ErrorRateCheck:
    """The candidate's share of failed requests (HTTP 5xx) stays at or below ``max_error_rate``."""

    name = "error-rate"
    comparative = False

    def __init__(self, max_error_rate: float, min_requests: int = 100) -> None:
        self.max_error_rate = max_error_rate
        self.min_requests = min_requests

    def evaluate(self, window: CanaryWindow) -> CheckResult:
        n = window.candidate.requests
        if n < self.min_requests:
            return _too_few(self.name, self.max_error_rate, n, self.min_requests, "requests")
        rate = window.candidate.errors / n
        return CheckResult(
            self.name, rate, self.max_error_rate, rate <= self.max_error_rate, n,
            f"{window.candidate.errors} of {n} requests failed",
        )  # fmt: skip


class LatencyCheck:
    """The candidate's p99 latency stays under an absolute limit, or a multiple of the
    champion's p99 over the same window."""

    def __init__(
        self,
        *,
        max_p99_ms: float | None = None,
        max_ratio: float | None = None,
        min_requests: int = 100,
    ) -> None:
        if (max_p99_ms is None) == (max_ratio is None):
            raise ValueError("give exactly one of max_p99_ms and max_ratio")
        self.max_p99_ms = max_p99_ms
        self.max_ratio = max_ratio
        self.min_requests = min_requests
        self.name = "latency-p99" if max_ratio is None else "latency-ratio"
        self.comparative = max_ratio is not None

    def evaluate(self, window: CanaryWindow) -> CheckResult:
        limit = self.max_p99_ms if self.max_p99_ms is not None else self.max_ratio
        assert limit is not None
        n = window.candidate.requests
        p99 = window.candidate.latency_p99_ms
        if n < self.min_requests or p99 is None:
            return _too_few(self.name, limit, n, self.min_requests, "requests")
        if self.max_ratio is None:
            return CheckResult(self.name, p99, limit, p99 <= limit, n, f"p99 {p99:.1f} ms")
        base = window.champion.latency_p99_ms
        if base is None or window.champion.requests < self.min_requests:
            return _too_few(
                self.name, limit, window.champion.requests, self.min_requests, "champion requests"
            )
        ratio = p99 / max(base, 1e-3)
        return CheckResult(
            self.name, ratio, limit, ratio <= limit, n,
            f"p99 {p99:.1f} ms vs champion {base:.1f} ms",
        )  # fmt: skip


def _default_drift(reference: np.ndarray, current: np.ndarray) -> tuple[str, float]:
    """Numbers with many distinct values: Wasserstein distance over the reference's standard
    deviation; classes: Jensen-Shannon distance of the class shares (natural log)."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    if reference.dtype.kind in "fc" and np.unique(reference).size > 20:
        scale = max(float(np.std(reference)), 0.001)
        return "wasserstein_normed", float(wasserstein_distance(reference, current)) / scale
    levels, inverse = np.unique(
        np.concatenate([reference.astype(str), current.astype(str)]), return_inverse=True
    )
    ref = np.bincount(inverse[: len(reference)], minlength=len(levels))
    cur = np.bincount(inverse[len(reference) :], minlength=len(levels))
    return "jensenshannon", float(jensenshannon(ref, cur))


class PredictionDriftCheck:
    """The candidate's predictions are distributed like the champion's on the same window.

    Numeric outputs with many distinct values use the normed Wasserstein distance; classes use
    the Jensen-Shannon distance of class shares — both from the monitoring package.
    """

    name = "prediction-drift"
    comparative = True

    def __init__(
        self,
        max_drift: float,
        min_predictions: int = 100,
        measure: Callable[[np.ndarray, np.ndarray], tuple[str, float]] | None = None,
    ) -> None:
        self.max_drift = max_drift
        self.min_predictions = min_predictions
        self._measure = measure or _default_drift

    def evaluate(self, window: CanaryWindow) -> CheckResult:
        cand, champ = window.candidate.predictions, window.champion.predictions
        n = 0 if cand is None else len(cand)
        m = 0 if champ is None else len(champ)
        if cand is None or champ is None or min(n, m) < self.min_predictions:
            return _too_few(
                self.name, self.max_drift, min(n, m), self.min_predictions, "logged predictions"
            )
        test, value = self._measure(champ, cand)
        return CheckResult(
            self.name, value, self.max_drift, value <= self.max_drift, n,
            f"{test} of {n} candidate vs {m} champion predictions",
        )  # fmt: skip


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    """The values as floats when every one is a number (1, 1.0, True), else ``None``."""
    if values.dtype.kind in "biuf":
        return values.astype(float)
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None


def same_answers(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per row, whether the prediction equals the label: numerically when both sides are
    numbers (a label sent as 1.0 matches a prediction of 1), else as text."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    left, right = _as_numbers(labels), _as_numbers(predicted)
    if left is not None and right is not None:
        return np.asarray(left == right)
    return np.asarray(labels.astype(str) == predicted.astype(str))


def _accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    same = same_answers(labels, predicted)
    return float(same.mean()) if same.size else 0.0


class AccuracyDeltaCheck:
    """Accuracy on labelled feedback: candidate minus champion, same window, at least
    ``min_delta`` (e.g. -0.02 tolerates a drop of two points)."""

    name = "accuracy-delta"
    comparative = True

    def __init__(self, min_delta: float, min_labels: int = 200) -> None:
        self.min_delta = min_delta
        self.min_labels = min_labels

    def evaluate(self, window: CanaryWindow) -> CheckResult:
        counts = []
        for variant in (window.candidate, window.champion):
            labels = variant.labels
            counts.append(0 if labels is None else len(labels))
        if min(counts) < self.min_labels:
            return _too_few(
                self.name, self.min_delta, min(counts), self.min_labels, "labelled predictions"
            )
        cand = _accuracy(window.candidate.labels, window.candidate.labelled_predictions)  # type: ignore[arg-type]
        champ = _accuracy(window.champion.labels, window.champion.labelled_predictions)  # type: ignore[arg-type]
        delta = cand - champ
        return CheckResult(
            self.name, delta, self.min_delta, delta >= self.min_delta, counts[0],
            f"accuracy {cand:.4f} vs champion {champ:.4f} ({counts[0]}/{counts[1]} labels)",
        )  # fmt: skip


class ShadowDisagreementCheck:
    """On shadow traffic, the share of requests where the candidate's answer differs from the
    champion's (classes: not equal; numbers: relative difference above ``tolerance``)."""

    name = "shadow-disagreement"
    comparative = True

    def __init__(
        self, max_disagreement: float, min_requests: int = 100, tolerance: float = 1e-6
    ) -> None:
        self.max_disagreement = max_disagreement
        self.min_requests = min_requests
        self.tolerance = tolerance

    def evaluate(self, window: CanaryWindow) -> CheckResult:
        pairs = window.shadow_pairs
        n = 0 if pairs is None else len(pairs[0])
        if pairs is None or n < self.min_requests:
            return _too_few(
                self.name, self.max_disagreement, n, self.min_requests, "shadowed requests"
            )
        champion, candidate = pairs
        if champion.dtype.kind in "fc" and candidate.dtype.kind in "fc":
            scale = np.maximum(np.abs(champion), 1e-12)
            differ = np.abs(candidate - champion) / scale > self.tolerance
        else:
            differ = champion.astype(str) != candidate.astype(str)
        share = float(differ.mean())
        return CheckResult(
            self.name, share, self.max_disagreement, share <= self.max_disagreement, n,
            f"{int(differ.sum())} of {n} shadowed answers differ",
        )  # fmt: skip
