"""The ``MLmodel`` file: what a model folder holds and how to load it, in MLflow's format.

Keeping MLflow's layout (``MLmodel`` + flavour files) means models logged by the ``mlflow``
client load in Loopline and Loopline's sklearn models load in ``mlflow.pyfunc``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.models.signature import ModelSignature

__all__ = ["MLMODEL_FILE", "ModelMeta"]

MLMODEL_FILE = "MLmodel"


@dataclass
class ModelMeta:
    flavors: dict[str, dict[str, Any]]
    artifact_path: str = "model"
    run_id: str | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keys we do not interpret, kept as-is

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "artifact_path": self.artifact_path,
                "flavors": self.flavors,
                "model_uuid": self.model_uuid,
                "utc_time_created": self.utc_time_created,
            }
        )
        if self.run_id:
            out["run_id"] = self.run_id
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.metadata:
            out["metadata"] = self.metadata
        return out

    def save(self, folder: Path) -> None:
        import yaml

        (folder / MLMODEL_FILE).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, folder: Path) -> ModelMeta:
        from loopline.core.yaml_loader import load_yaml, read_yaml_text

        path = folder / MLMODEL_FILE
        if not path.is_file():
            raise NotFound(
                f"{folder} holds no MLmodel file, so it is not a model folder",
                hint="log models with loopline.sklearn.log_model (or mlflow.*.log_model)",
            )
        data = load_yaml(read_yaml_text(path), str(path), hint="re-log the model")
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise InvalidInput(f"{path} has no 'flavors' section", hint="re-log the model")
        known = {
            "artifact_path",
            "flavors",
            "model_uuid",
            "utc_time_created",
            "run_id",
            "signature",
            "saved_input_example_info",
            "metadata",
        }
        signature = data.get("signature")
        return cls(
            flavors=data["flavors"],
            artifact_path=data.get("artifact_path") or "model",
            run_id=data.get("run_id"),
            model_uuid=data.get("model_uuid") or uuid.uuid4().hex,
            utc_time_created=str(data.get("utc_time_created") or ""),
            signature=ModelSignature.from_dict(signature) if isinstance(signature, dict) else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            metadata=data.get("metadata") or {},
            extra={k: v for k, v in data.items() if k not in known},
        )
