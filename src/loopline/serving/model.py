"""A model loaded for serving: the estimator, its input contract, and one ``predict`` call that
computes the outputs a batch asked for with scikit-learn's per-call checks turned off (inputs
were validated against the signature already)."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.serving.inputs import InputSchema

__all__ = ["OUTPUT_KINDS", "ServedModel", "load_served_model", "takes_missing_values"]

log = logging.getLogger(__name__)

OUTPUT_KINDS = ("predict", "predict_proba")
MAX_CLASS_LABELS = 64  # above this, predictions are not a metric label (cardinality)


@dataclass
class ServedModel:
    name: str
    version: str
    uri: str
    folder: Path
    estimator: Any
    schema: InputSchema
    outputs: tuple[str, ...]
    classes: tuple[Any, ...] | None
    load_seconds: float
    platform: str = "sklearn"
    variant: str = ""  # the deployment variant this model answers for ("" outside deployments)
    # Column positions in the estimator's feature order when a plain array can stand in for a
    # DataFrame (all-numeric columns): sklearn's per-call DataFrame checks cost more than the
    # arithmetic on a few rows.
    array_order: np.ndarray | None = None

    def predict(self, values: np.ndarray, wanted: frozenset[str]) -> dict[str, np.ndarray]:
        """The requested outputs for a 2-D batch (rows in the schema's column order)."""
        import sklearn

        features = self._features(values)
        results: dict[str, np.ndarray] = {}
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            for kind in OUTPUT_KINDS:
                if kind in wanted:
                    results[kind] = np.asarray(getattr(self.estimator, kind)(features))
        return results

    def prediction_labels(self, predictions: np.ndarray) -> list[tuple[str, int]]:
        """(label, count) pairs for ``model_predictions_total``: the predicted class for a
        classifier with few classes, otherwise one bucket so label cardinality stays bounded."""
        if self.classes is None or len(self.classes) > MAX_CLASS_LABELS:
            return [("value", int(predictions.shape[0]))]
        labels, counts = np.unique(predictions, return_counts=True)
        return [(str(label), int(count)) for label, count in zip(labels, counts, strict=True)]

    def _features(self, values: np.ndarray) -> Any:
        if not self.schema.names or not hasattr(self.estimator, "feature_names_in_"):
            return values
        if self.array_order is not None:
            return values if self.array_order.size == 0 else values[:, self.array_order]
        import pandas as pd

        frame = pd.DataFrame(values, columns=list(self.schema.names), copy=False)
        casts = self.schema.column_dtypes
        return frame.astype(casts) if casts else frame


def load_served_model(
    name: str, version: str, uri: str, folder: Path, *, trusted: bool = False
) -> ServedModel:
    """Load the model folder behind ``uri`` (already resolved to ``folder``)."""
    from loopline.models.mlmodel import ModelMeta
    from loopline.models.sklearn import load_from_folder

    started = time.perf_counter()
    meta = ModelMeta.load(folder)
    if "sklearn" not in meta.flavors:
        raise InvalidInput(
            f"{uri} has flavours {', '.join(meta.flavors)}; the server runs scikit-learn models",
            hint="log the model with loopline.sklearn.log_model or mlflow.sklearn.log_model",
        )
    estimator = load_from_folder(folder, trusted=trusted)
    outputs = tuple(kind for kind in OUTPUT_KINDS if hasattr(estimator, kind))
    classes = getattr(estimator, "classes_", None)
    model = ServedModel(
        name=name,
        version=version,
        uri=uri,
        folder=folder,
        estimator=estimator,
        schema=_schema(meta.signature, estimator),
        outputs=outputs,
        classes=tuple(classes.tolist()) if classes is not None else None,
        load_seconds=0.0,
    )
    model.array_order = _array_order(model)
    _warm_up(model)
    model.load_seconds = time.perf_counter() - started
    log.info("loaded %s version %s from %s in %.2f s", name, version, uri, model.load_seconds)
    return model


def _schema(signature: Any, estimator: Any) -> InputSchema:
    from loopline.models.signature import ColSpec

    allow_nan = takes_missing_values(estimator)
    if signature is not None and signature.inputs and not signature.is_tensor:
        columns = [s for s in signature.inputs if isinstance(s, ColSpec)]
        if all(c.name for c in columns):
            return InputSchema.of_columns(
                [str(c.name) for c in columns],
                [c.type for c in columns],
                [c.required for c in columns],
                allow_nan=allow_nan,
            )
    width = getattr(estimator, "n_features_in_", None)
    return InputSchema.unnamed(int(width) if width is not None else None, allow_nan=allow_nan)


def takes_missing_values(estimator: Any) -> bool:
    """Whether the estimator says it handles NaN in its input (scikit-learn's ``allow_nan``
    input tag: HistGradientBoosting, trees since 1.4, imputing pipelines, ...)."""
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.allow_nan)
    except Exception:  # not a scikit-learn estimator, or one from before the tags API
        tags = getattr(estimator, "_get_tags", None)
        try:
            return bool(tags()["allow_nan"]) if callable(tags) else False
        except Exception:
            return False


def _array_order(model: ServedModel) -> np.ndarray | None:
    """How to hand rows to the estimator as an array: an empty permutation when the columns are
    already in its order, a permutation when they are not, None when a DataFrame is needed."""
    fitted = getattr(model.estimator, "feature_names_in_", None)
    schema = model.schema
    if fitted is None or not schema.names or schema.storage != np.float64:
        return None
    names = [str(n) for n in fitted]
    if sorted(names) != sorted(schema.names):
        return None
    # Fitted on a DataFrame, fed an array: the columns are right, so the warning is noise.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    if names == list(schema.names):
        return np.empty(0, dtype=np.intp)
    return np.asarray([schema.names.index(n) for n in names], dtype=np.intp)


def _warm_up(model: ServedModel) -> None:
    """One prediction at load time: a broken model fails here, not on the first request, and
    lazy imports inside the estimator are paid before traffic arrives."""
    if model.schema.width is None or not model.schema.numeric:
        return
    row = np.zeros((1, model.schema.width), dtype=np.float64)
    try:
        model.predict(row, frozenset(model.outputs))
    except Exception as exc:
        raise InvalidInput(
            f"{model.uri} failed a test prediction after loading: {exc}",
            hint="check that the model was saved with the scikit-learn version installed here",
        ) from exc
