"""Model signatures: the named, typed columns a model takes and returns, in MLflow's JSON form.

A signature is inferred from an input example (a pandas DataFrame, a NumPy array, a list of
records) and stored in the ``MLmodel`` file, so servers can validate requests against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = ["ColSpec", "ModelSignature", "TensorSpec", "infer_signature"]

# NumPy dtype kind/size -> MLflow column type
_NUMPY_TO_MLFLOW = {
    "b": "boolean",
    "i4": "integer",
    "i8": "long",
    "i2": "integer",
    "i1": "integer",
    "u1": "integer",
    "u2": "integer",
    "u4": "long",
    "u8": "long",
    "f4": "float",
    "f8": "double",
    "f2": "float",
    "O": "string",
    "U": "string",
    "S": "binary",
    "M": "datetime",
}
MLFLOW_TO_NUMPY = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColSpec:
    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            out["name"] = self.name
        return out


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[Spec, ...]
    outputs: tuple[Spec, ...] = ()

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None]

    @property
    def is_tensor(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def to_dict(self) -> dict[str, Any]:
        """The ``signature:`` block of an MLmodel file (schemas as JSON strings, as MLflow)."""
        return {
            "inputs": json.dumps([s.to_dict() for s in self.inputs]),
            "outputs": json.dumps([s.to_dict() for s in self.outputs]) if self.outputs else None,
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        return cls(_specs(data.get("inputs")), _specs(data.get("outputs")))


def _specs(raw: Any) -> tuple[Spec, ...]:
    if not raw:
        return ()
    items = json.loads(raw) if isinstance(raw, str) else raw
    specs: list[Spec] = []
    for item in items:
        if item.get("type") == "tensor":
            tensor = item["tensor-spec"]
            specs.append(TensorSpec(tensor["dtype"], tuple(tensor["shape"]), item.get("name")))
        else:
            specs.append(ColSpec(item["type"], item.get("name"), bool(item.get("required", True))))
    return tuple(specs)


def _mlflow_type(dtype: Any) -> str:
    kind = dtype.kind
    key = f"{kind}{dtype.itemsize}" if kind in "iuf" else kind
    if key not in _NUMPY_TO_MLFLOW:
        raise InvalidInput(f"cannot describe a column of dtype {dtype} in a signature")
    return _NUMPY_TO_MLFLOW[key]


def _schema_of(data: Any, default_name: str | None = None) -> tuple[Spec, ...]:
    import numpy as np

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the ml extra
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return tuple(ColSpec(_mlflow_type(data[c].dtype), str(c)) for c in data.columns)
    if pd is not None and isinstance(data, pd.Series):
        return (
            ColSpec(
                _mlflow_type(data.dtype), str(data.name) if data.name is not None else default_name
            ),
        )
    if isinstance(data, dict):
        return tuple(ColSpec(_mlflow_type(np.asarray(v).dtype), str(k)) for k, v in data.items())
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return _schema_of(pd.DataFrame(data)) if pd is not None else ()
    array = np.asarray(data)
    if array.ndim <= 1:
        return (ColSpec(_mlflow_type(array.dtype), default_name),)
    return (TensorSpec(str(array.dtype), (-1, *array.shape[1:])),)


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """Describe inputs (and outputs) from example data, as ``mlflow.models.infer_signature``."""
    inputs = _schema_of(model_input)
    outputs = _schema_of(model_output) if model_output is not None else ()
    return ModelSignature(inputs, outputs)
