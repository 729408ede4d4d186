"""Quality metrics of labelled predictions, all from scikit-learn's ``sklearn.metrics``.

Classification: ``accuracy``; ``precision``, ``recall``, ``f1`` — for two classes those of the
positive class, the second of the sorted classes (what ``predict_proba[:, 1]`` scores), for more
classes the unweighted mean over classes (``average="macro"``, configurable), with
``zero_division=0``; ``roc_auc`` (two classes: of the positive class; more: one-vs-rest, macro
average) and ``log_loss`` from the logged ``probabilities``, whose columns are the classes in sorted
order as scikit-learn's ``classes_`` are. Regression: ``mae``, ``rmse`` and ``mape`` (a fraction:
0.1 is 10 %, undefined when a true value is 0).

A metric that cannot be computed is ``None`` with the reason in ``notes`` — never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_scores", "regression_scores"]

Scores = tuple[dict[str, float | None], dict[str, str]]


def classification_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probabilities: np.ndarray | None,
    classes: Sequence[Any],
    average: str,
) -> Scores:
    from sklearn import metrics as m

    notes: dict[str, str] = {}
    labels = list(classes)
    if len(labels) == 2:
        kwargs: dict[str, Any] = {"average": "binary", "pos_label": labels[1]}
    else:
        kwargs = {"average": average, "labels": labels}
    scores: dict[str, float | None] = {}
    _put(scores, notes, "accuracy", lambda: m.accuracy_score(y_true, y_pred))
    for name, score in (
        ("precision", m.precision_score),
        ("recall", m.recall_score),
        ("f1", m.f1_score),
    ):
        _put(scores, notes, name, lambda s=score: s(y_true, y_pred, zero_division=0, **kwargs))
    scores["roc_auc"] = scores["log_loss"] = None
    if probabilities is None:
        notes["roc_auc"] = notes["log_loss"] = "the log holds no probabilities for these rows"
        return scores, notes
    if probabilities.shape[1] != len(labels):
        reason = (
            f"the probabilities have {probabilities.shape[1]} columns but {len(labels)} classes "
            f"were seen ({_show(labels)}); pass the model's classes"
        )
        notes["roc_auc"] = notes["log_loss"] = reason
        return scores, notes
    _put(scores, notes, "log_loss", lambda: m.log_loss(y_true, probabilities, labels=labels))
    present = np.unique(y_true)
    if len(present) < 2:
        notes["roc_auc"] = (
            f"ROC AUC needs at least two classes among the labels, got {_show(present)}"
        )
    elif len(labels) == 2:
        positive = y_true == labels[1]
        if positive.all() or not positive.any():
            notes["roc_auc"] = f"ROC AUC needs labels of both classes {_show(labels)}"
        else:
            _put(scores, notes, "roc_auc", lambda: m.roc_auc_score(positive, probabilities[:, 1]))
    elif len(present) < len(labels):
        notes["roc_auc"] = (
            f"one-vs-rest ROC AUC needs every class among the labels; missing: "
            f"{_show(sorted(set(labels) - set(present.tolist())))}"
        )
    else:
        _put(
            scores,
            notes,
            "roc_auc",
            lambda: m.roc_auc_score(
                y_true, probabilities, multi_class="ovr", average="macro", labels=labels
            ),
        )
    return scores, notes


def _put(scores: dict[str, float | None], notes: dict[str, str], name: str, compute: Any) -> None:
    """``scores[name] = compute()``, or ``None`` with scikit-learn's reason in ``notes``."""
    try:
        scores[name] = _finite(float(compute()))
    except ValueError as exc:
        scores[name] = None
        notes[name] = f"scikit-learn could not compute it: {exc}"
    if scores[name] is None and name not in notes:
        notes[name] = "the value is not finite"


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    from sklearn import metrics as m

    notes: dict[str, str] = {}
    scores: dict[str, float | None] = {}
    _put(scores, notes, "mae", lambda: m.mean_absolute_error(y_true, y_pred))
    _put(scores, notes, "rmse", lambda: math.sqrt(m.mean_squared_error(y_true, y_pred)))
    scores["mape"] = None
    if np.any(y_true == 0):
        notes["mape"] = "MAPE is undefined when a true value is 0"
    else:
        _put(scores, notes, "mape", lambda: m.mean_absolute_percentage_error(y_true, y_pred))
    return scores, notes


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _show(values: Any) -> str:
    shown = [str(v) for v in list(values)[:10]]
    return ", ".join(shown) + (", ..." if len(values) > 10 else "")
