"""``autolog`` for scikit-learn: wrap ``fit`` of every estimator class once."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

__all__ = ["patch_estimators"]

_patched: set[type] = set()
_depth = 0  # fits inside fits (pipelines, ensembles) are logged once, at the top


def _wrap(cls: type) -> None:
    original = cls.__dict__.get("fit")
    if original is None or cls in _patched:
        return

    @functools.wraps(original)
    def fit(self: Any, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> Any:
        global _depth
        from loopline.models import sklearn as flavour

        if not flavour._autolog_enabled or _depth:
            return original(self, X, y, *args, **kwargs)
        _depth += 1
        try:
            result = original(self, X, y, *args, **kwargs)
        finally:
            _depth -= 1
        _log_fit(self, X, y)
        return result

    cls.fit = fit  # type: ignore[attr-defined]
    _patched.add(cls)


def _log_fit(estimator: Any, X: Any, y: Any) -> None:
    import loopline
    from loopline.models import sklearn as flavour

    params = {k: v for k, v in estimator.get_params(deep=False).items() if not hasattr(v, "fit")}
    loopline.log_params({k: str(v)[:6000] for k, v in params.items()})
    loopline.set_tag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__name__}")
    if y is not None and hasattr(estimator, "score"):
        # Some estimators cannot score their own training data; that is not worth a failure.
        with contextlib.suppress(Exception):
            loopline.log_metric("training_score", float(estimator.score(X, y)))
    example = X[:5] if hasattr(X, "__getitem__") else None
    flavour.log_model(estimator, "model", input_example=example)


def patch_estimators() -> None:
    from sklearn.utils import all_estimators

    for _name, cls in all_estimators():
        _wrap(cls)
    from sklearn.pipeline import Pipeline

    _wrap(Pipeline)
