"""Each canary check: pass, fail, and 'too little data to decide'."""

from __future__ import annotations

import numpy as np
import pytest

from loopline.rollout.checks import (
    AccuracyDeltaCheck,
    CanaryWindow,
    ErrorRateCheck,
    LatencyCheck,
    PredictionDriftCheck,
    ShadowDisagreementCheck,
    VariantWindow,
)

rng = np.random.default_rng(5)


def _window(
    candidate: VariantWindow, champion: VariantWindow | None = None, **kw: object
) -> CanaryWindow:
    return CanaryWindow(0.0, 60.0, candidate, champion or VariantWindow(), **kw)  # type: ignore[arg-type]


def test_error_rate() -> None:
    check = ErrorRateCheck(0.01, min_requests=100)
    assert check.evaluate(_window(VariantWindow(1000, 5))).passed is True
    failed = check.evaluate(_window(VariantWindow(1000, 50)))
    assert failed.passed is False and failed.value == pytest.approx(0.05)
    assert check.evaluate(_window(VariantWindow(50, 50))).passed is None


def test_latency_absolute_and_relative_to_the_champion() -> None:
    absolute = LatencyCheck(max_p99_ms=50, min_requests=10)
    assert absolute.evaluate(_window(VariantWindow(100, 0, 40.0))).passed is True
    assert absolute.evaluate(_window(VariantWindow(100, 0, 80.0))).passed is False
    relative = LatencyCheck(max_ratio=1.5, min_requests=10)
    champion = VariantWindow(100, 0, 20.0)
    assert relative.evaluate(_window(VariantWindow(100, 0, 25.0), champion)).passed is True
    result = relative.evaluate(_window(VariantWindow(100, 0, 40.0), champion))
    assert result.passed is False and result.value == pytest.approx(2.0)
    assert relative.evaluate(_window(VariantWindow(100, 0, 40.0))).passed is None
    with pytest.raises(ValueError):
        LatencyCheck()


def test_prediction_drift_numeric_and_classes() -> None:
    check = PredictionDriftCheck(0.2, min_predictions=100)
    same = check.evaluate(
        _window(VariantWindow(predictions=rng.normal(0, 1, 2000)),
                VariantWindow(predictions=rng.normal(0, 1, 2000)))
    )  # fmt: skip
    assert same.passed is True and "wasserstein_normed" in same.detail
    shifted = check.evaluate(
        _window(VariantWindow(predictions=rng.normal(1, 1, 2000)),
                VariantWindow(predictions=rng.normal(0, 1, 2000)))
    )  # fmt: skip
    assert shifted.passed is False and shifted.value == pytest.approx(1.0, abs=0.15)
    classes = check.evaluate(
        _window(VariantWindow(predictions=np.array(["yes"] * 900 + ["no"] * 100)),
                VariantWindow(predictions=np.array(["yes"] * 100 + ["no"] * 900)))
    )  # fmt: skip
    assert classes.passed is False and "jensenshannon" in classes.detail
    assert check.evaluate(_window(VariantWindow(predictions=np.zeros(5)))).passed is None


def test_accuracy_delta_on_the_same_window() -> None:
    labels = rng.integers(0, 2, 500)
    good = labels.copy()
    worse = np.where(rng.random(500) < 0.2, 1 - labels, labels)
    check = AccuracyDeltaCheck(-0.02, min_labels=200)
    champion = VariantWindow(labels=labels, labelled_predictions=good)
    result = check.evaluate(
        _window(VariantWindow(labels=labels, labelled_predictions=worse), champion)
    )
    assert result.passed is False and result.value == pytest.approx(-(worse != labels).mean())
    fine = check.evaluate(
        _window(VariantWindow(labels=labels, labelled_predictions=good), champion)
    )
    assert fine.passed is True
    few = VariantWindow(labels=labels[:10], labelled_predictions=good[:10])
    assert check.evaluate(_window(few, champion)).passed is None


def test_accuracy_compares_float_labels_with_integer_predictions_as_numbers() -> None:
    # Feedback labels are stored as float64 (1.0); a classifier predicts 0/1 integers.
    labels = rng.integers(0, 2, 400)
    worse = np.where(rng.random(400) < 0.3, 1 - labels, labels)
    check = AccuracyDeltaCheck(-0.02, min_labels=200)
    champion = VariantWindow(labels=labels.astype(float), labelled_predictions=labels)
    result = check.evaluate(
        _window(VariantWindow(labels=labels.astype(float), labelled_predictions=worse), champion)
    )
    assert result.passed is False
    assert result.value == pytest.approx(-(worse != labels).mean())
    assert "vs champion 1.0000" in result.detail
    texts = np.asarray(["yes", "no"] * 150, dtype=object)
    same = VariantWindow(labels=texts, labelled_predictions=texts.copy())
    assert check.evaluate(_window(same, same)).value == 0.0


def test_shadow_disagreement() -> None:
    check = ShadowDisagreementCheck(0.1, min_requests=100)
    champion = rng.integers(0, 3, 1000)
    candidate = champion.copy()
    candidate[:50] = (candidate[:50] + 1) % 3
    ok = check.evaluate(_window(VariantWindow(), shadow_pairs=(champion, candidate)))
    assert ok.passed is True and ok.value == pytest.approx(0.05)
    candidate[:300] = (champion[:300] + 1) % 3
    assert (
        check.evaluate(_window(VariantWindow(), shadow_pairs=(champion, candidate))).passed is False
    )
    floats = check.evaluate(
        _window(VariantWindow(), shadow_pairs=(np.ones(200), np.ones(200) * (1 + 1e-9)))
    )
    assert floats.passed is True
    assert check.evaluate(_window(VariantWindow())).passed is None
