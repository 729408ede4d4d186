"""The scikit-learn flavour: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

``loopline.sklearn.log_model(model, "model", input_example=X[:5])`` writes an MLflow-format
model folder (``MLmodel``, ``model.skops``, requirements, input example) into the active
run's artifacts, records the run and the data versions it saw, and can register it.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.models._safe_load import load_pickle, load_skops, save_skops
from loopline.models.mlmodel import ModelMeta
from loopline.models.signature import ModelSignature, infer_signature

__all__ = ["ModelInfo", "autolog", "load_model", "log_model", "save_model"]

FLAVOR = "sklearn"
_FORMATS = {"skops": "model.skops", "pickle": "model.pkl", "cloudpickle": "model.pkl"}


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` logged (MLflow's ModelInfo shape)."""

    artifact_path: str
    model_uri: str
    run_id: str | None
    signature: ModelSignature | None
    registered_model_version: int | None = None


def _versions() -> dict[str, str]:
    import sklearn

    return {"sklearn": sklearn.__version__, "python": platform.python_version()}


def save_model(
    sk_model: Any,
    path: str | Path,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    serialization_format: str = "skops",
    metadata: dict[str, Any] | None = None,
    run_id: str | None = None,
    artifact_path: str = "model",
) -> ModelMeta:
    """Write a model folder at ``path`` (which must not exist yet)."""
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{folder} already exists and is not empty", hint="choose a new folder")
    if serialization_format not in _FORMATS:
        raise InvalidInput(
            f"serialization_format must be one of {sorted(_FORMATS)}, got {serialization_format!r}"
        )
    if not hasattr(sk_model, "predict"):
        raise InvalidInput(
            f"{type(sk_model).__name__} has no predict(); it is not a scikit-learn model"
        )
    folder.mkdir(parents=True, exist_ok=True)
    model_file = _FORMATS[serialization_format]
    if serialization_format == "skops":
        save_skops(sk_model, folder / model_file)
    else:
        import pickle

        with open(folder / model_file, "wb") as handle:
            pickle.dump(sk_model, handle)
    versions = _versions()
    example_info = _save_input_example(folder, input_example)
    if signature is None and input_example is not None:
        signature = infer_signature(input_example, _predict_quietly(sk_model, input_example))
    meta = ModelMeta(
        flavors={
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": model_file,
                "predict_fn": "predict",
                "python_version": versions["python"],
                "env": {"virtualenv": "python_env.yaml"},
            },
            FLAVOR: {
                "pickled_model": model_file,
                "serialization_format": serialization_format,
                "sklearn_version": versions["sklearn"],
                "code": None,
            },
        },
        artifact_path=artifact_path,
        run_id=run_id,
        signature=signature,
        saved_input_example_info=example_info,
        metadata=metadata or {},
    )
    meta.save(folder)
    _write_environment(folder, versions)
    return meta


def _predict_quietly(model: Any, example: Any) -> Any:
    try:
        return model.predict(example)
    except Exception:
        return None  # an unfitted model or an odd example: the signature gets no outputs


def _save_input_example(folder: Path, example: Any) -> dict[str, Any] | None:
    if example is None:
        return None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(example, pd.DataFrame):
        payload = {
            "columns": [str(c) for c in example.columns],
            "data": example.to_numpy().tolist(),
        }
        (folder / "input_example.json").write_text(json.dumps(payload, default=str))
        return {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
        }
    import numpy as np

    array = np.asarray(example)
    (folder / "input_example.json").write_text(json.dumps({"inputs": array.tolist()}, default=str))
    return {"artifact_path": "input_example.json", "type": "ndarray", "format": "tf-serving"}


def _write_environment(folder: Path, versions: dict[str, str]) -> None:
    requirements = [f"scikit-learn=={versions['sklearn']}"]
    for package in ("numpy", "scipy", "skops", "pandas"):
        try:
            from importlib.metadata import version

            requirements.append(f"{package}=={version(package)}")
        except Exception:
            continue
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python_env = (
        f"python: {versions['python']}\n"
        "build_dependencies:\n- pip\n"
        "dependencies:\n- -r requirements.txt\n"
    )
    (folder / "python_env.yaml").write_text(python_env)


def log_model(
    sk_model: Any,
    artifact_path: str = "model",
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    serialization_format: str = "skops",
    name: str | None = None,
) -> ModelInfo:
    """Save the model into the active run's artifacts (and register it if asked)."""
    from loopline.tracking import fluent

    artifact_path = name or artifact_path
    run = fluent._active_or_new()
    run_id = run.info.run_id
    data = [{"path": d.path, "oid": d.oid} for d in run._client.get_run(run_id).inputs]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        meta = save_model(
            sk_model,
            folder,
            signature=signature,
            input_example=input_example,
            serialization_format=serialization_format,
            run_id=run_id,
            artifact_path=artifact_path,
            metadata={"loopline": {"run_id": run_id, "data": data}},
        )
        run._client.artifacts(run_id).log_dir(folder, artifact_path)
        shutil.rmtree(folder, ignore_errors=True)
    uri = f"runs:/{run_id}/{artifact_path}"
    version = None
    if registered_model_name:
        from loopline.registry import register_model

        version = register_model(uri, registered_model_name).version
    return ModelInfo(artifact_path, uri, run_id, meta.signature, version)


def load_model(model_uri: str, *, trusted: bool = False) -> Any:
    """The scikit-learn estimator behind a model URI (skops checked; pickle only if trusted)."""
    from loopline.registry import resolve_model_uri

    folder = resolve_model_uri(model_uri)
    return load_from_folder(folder, trusted=trusted)


def load_from_folder(folder: Path, *, trusted: bool = False) -> Any:
    meta = ModelMeta.load(folder)
    flavor = meta.flavors.get(FLAVOR)
    if flavor is None:
        raise InvalidInput(
            f"the model at {folder} has no sklearn flavour (flavours: {', '.join(meta.flavors)})",
            hint="load it with loopline.pyfunc.load_model instead",
        )
    model_file = folder / str(flavor.get("pickled_model", "model.pkl"))
    if (
        flavor.get("serialization_format", "cloudpickle") == "skops"
        or model_file.suffix == ".skops"
    ):
        return load_skops(model_file, trusted=trusted)
    return load_pickle(model_file, trusted=trusted)


_autolog_enabled = False


def autolog(disable: bool = False) -> None:
    """Log params, training score and the model of every ``fit`` inside a run (or a new one)."""
    global _autolog_enabled
    _autolog_enabled = not disable
    if disable:
        return
    from loopline.models._autolog import patch_estimators

    patch_estimators()
