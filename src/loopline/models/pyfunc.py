"""``pyfunc``: one ``predict`` for any model folder, as ``mlflow.pyfunc`` offers.

Inputs may be a pandas DataFrame, a NumPy array, a dict of columns or a list of records; with a
column signature, DataFrame columns are checked and put in the trained order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.models.mlmodel import ModelMeta
from loopline.models.signature import MLFLOW_TO_NUMPY, ColSpec, ModelSignature

__all__ = ["PyFuncModel", "load_model"]


class PyFuncModel:
    def __init__(self, model_uri: str, folder: Path, meta: ModelMeta, implementation: Any) -> None:
        self.model_uri = model_uri
        self.folder = folder
        self.metadata = meta
        self._impl = implementation

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    @property
    def implementation(self) -> Any:
        """The underlying model object (e.g. the scikit-learn estimator)."""
        return self._impl

    def predict(self, data: Any) -> Any:
        return self._impl.predict(self.prepare(data))

    def predict_proba(self, data: Any) -> Any:
        if not hasattr(self._impl, "predict_proba"):
            raise InvalidInput(f"{type(self._impl).__name__} gives no probabilities")
        return self._impl.predict_proba(self.prepare(data))

    def prepare(self, data: Any) -> Any:
        """Shape ``data`` as the model was trained: column names and order from the signature."""
        signature = self.signature
        names = signature.input_names if signature else []
        if not names:
            return data
        import pandas as pd

        if isinstance(data, dict) or (
            isinstance(data, list) and data and isinstance(data[0], dict)
        ):
            data = pd.DataFrame(data)
        if not isinstance(data, pd.DataFrame):
            import numpy as np

            array = np.asarray(data)
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.shape[1] != len(names):
                raise InvalidInput(
                    f"the model takes {len(names)} columns ({', '.join(names)}), "
                    f"got {array.shape[1]}"
                )
            data = pd.DataFrame(array, columns=names)
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InvalidInput(
                f"input is missing column(s) {', '.join(missing)}",
                hint=f"the model takes: {', '.join(names)}",
            )
        frame = data[names]
        return _cast(frame, signature)

    def __repr__(self) -> str:
        return f"PyFuncModel({self.model_uri!r}, flavours={list(self.metadata.flavors)})"


def _cast(frame: Any, signature: ModelSignature | None) -> Any:
    if signature is None:
        return frame
    casts = {
        spec.name: MLFLOW_TO_NUMPY[spec.type]
        for spec in signature.inputs
        if isinstance(spec, ColSpec) and spec.name and spec.type in ("double", "float")
    }
    return frame.astype(casts) if casts else frame


def load_model(model_uri: str, *, trusted: bool = False) -> PyFuncModel:
    from loopline.registry import resolve_model_uri

    folder = resolve_model_uri(model_uri)
    return load_from_folder(folder, model_uri, trusted=trusted)


def load_from_folder(
    folder: Path, model_uri: str | None = None, *, trusted: bool = False
) -> PyFuncModel:
    meta = ModelMeta.load(folder)
    if "sklearn" in meta.flavors:
        from loopline.models.sklearn import load_from_folder as load_sklearn

        implementation = load_sklearn(folder, trusted=trusted)
    else:
        raise InvalidInput(
            f"the model at {folder} has flavours {', '.join(meta.flavors)}; "
            "Loopline loads scikit-learn models so far",
            hint="log the model with loopline.sklearn.log_model or mlflow.sklearn.log_model",
        )
    return PyFuncModel(model_uri or str(folder), folder, meta, implementation)
