"""Entities as MLflow's REST API spells them (int64 as numbers, registry versions as strings)."""

from __future__ import annotations

from typing import Any

from loopline.registry.entities import ModelVersion, RegisteredModel
from loopline.tracking.entities import Experiment, Metric, Run
from loopline.tracking.logged_models import LoggedModel

__all__ = [
    "experiment_json",
    "logged_model_json",
    "metric_json",
    "model_version_json",
    "registered_model_json",
    "run_info_json",
    "run_json",
]


def _pairs(mapping: Any) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def experiment_json(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": _pairs(e.tags),
    }


def metric_json(m: Metric, **extra: Any) -> dict[str, Any]:
    return {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step, **extra}


def run_info_json(run: Run) -> dict[str, Any]:
    info = run.info
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def run_json(run: Run) -> dict[str, Any]:
    return {
        "info": run_info_json(run),
        "data": {
            "metrics": [metric_json(m) for m in run.data.metric_entries],
            "params": _pairs(run.data.params),
            "tags": _pairs(run.data.tags),
        },
        "inputs": {
            "dataset_inputs": [
                {
                    "dataset": {
                        "name": d.path,
                        "digest": d.oid,
                        "source_type": "loopline",
                        "source": d.path,
                    }
                }
                for d in run.inputs
            ]
        }
        if run.inputs
        else {},
        "outputs": {},
    }


def model_version_json(v: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage,
        "description": v.description or "",
        "source": v.source,
        "run_id": v.run_id or "",
        "status": v.status,
        "run_link": "",
        "tags": _pairs(v.tags),
        "aliases": list(v.aliases),
    }
    if v.model_id:
        out["model_id"] = v.model_id
    return out


def registered_model_json(m: RegisteredModel) -> dict[str, Any]:
    return {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
        "description": m.description or "",
        "latest_versions": [model_version_json(v) for v in m.latest_versions],
        "tags": _pairs(m.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(m.aliases.items())],
    }


def logged_model_json(m: LoggedModel) -> dict[str, Any]:
    return {
        "info": {
            "model_id": m.model_id,
            "experiment_id": m.experiment_id,
            "name": m.name,
            "creation_timestamp_ms": m.creation_time,
            "last_updated_timestamp_ms": m.last_updated_time,
            "artifact_uri": m.artifact_location,
            "status": _logged_model_status(m.status),
            "model_type": m.model_type or "",
            "source_run_id": m.source_run_id or "",
            "tags": _pairs(m.tags),
        },
        "data": {"params": _pairs(m.params), "metrics": []},
    }


def _logged_model_status(status: str) -> str:
    """The proto enum name MLflow's client parses (``LOGGED_MODEL_READY``)."""
    return status if status.startswith("LOGGED_MODEL") else f"LOGGED_MODEL_{status}"
