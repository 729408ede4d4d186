"""The tracking store behind an http(s) tracking URI: same methods as the SQL store, carried
over the MLflow-compatible REST API of ``loopline server``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from loopline.core.errors import NotFound
from loopline.tracking._rest import RestSession
from loopline.tracking.entities import (
    DataInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from loopline.tracking.inputs import annotate_inputs

__all__ = ["RestTrackingStore"]

_API = "/api/2.0/mlflow"
_BATCH_METRICS = 1000
_BATCH_OTHER = 100


def _number(value: Any) -> float:
    if isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    return float(value)


def _experiment(data: dict[str, Any]) -> Experiment:
    return Experiment(
        str(data["experiment_id"]),
        data["name"],
        data.get("artifact_location", ""),
        data.get("lifecycle_stage", "active"),
        int(data.get("creation_time") or 0),
        int(data.get("last_update_time") or 0),
        {t["key"]: t["value"] for t in data.get("tags", [])},
    )


def _run(data: dict[str, Any]) -> Run:
    info = data["info"]
    body = data.get("data", {})
    metrics = tuple(
        sorted(
            (
                Metric(
                    m["key"],
                    _number(m["value"]),
                    int(m.get("timestamp") or 0),
                    int(m.get("step") or 0),
                )
                for m in body.get("metrics", [])
            ),
            key=lambda m: m.key,
        )
    )
    tags = {t["key"]: t["value"] for t in body.get("tags", [])}
    inputs = annotate_inputs(
        (
            DataInput(d["dataset"]["name"], d["dataset"]["digest"])
            for d in data.get("inputs", {}).get("dataset_inputs", [])
            if d.get("dataset", {}).get("source_type") == "loopline"
        ),
        tags,
    )
    return Run(
        RunInfo(
            info["run_id"],
            str(info["experiment_id"]),
            info.get("run_name", ""),
            info.get("user_id", ""),
            info.get("status", "RUNNING"),
            int(info.get("start_time") or 0),
            int(info["end_time"]) if info.get("end_time") else None,
            info.get("artifact_uri", ""),
            info.get("lifecycle_stage", "active"),
        ),
        RunData(
            {m.key: m.value for m in metrics},
            {p["key"]: p["value"] for p in body.get("params", [])},
            tags,
            metrics,
        ),
        inputs,
    )


class RestTrackingStore:
    def __init__(self, session: RestSession) -> None:
        self.session = session

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        payload: dict[str, Any] = {
            "name": name,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if artifact_location:
            payload["artifact_location"] = artifact_location
        return str(
            self.session.call("POST", f"{_API}/experiments/create", payload)["experiment_id"]
        )

    def ensure_default_experiment(self) -> str:
        self.get_experiment("0")
        return "0"

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        data = self.session.call("GET", f"{_API}/experiments/get", experiment_id=str(experiment_id))
        return _experiment(data["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            data = self.session.call("GET", f"{_API}/experiments/get-by-name", experiment_name=name)
        except NotFound:
            return None
        return _experiment(data["experiment"])

    def search_experiments(
        self, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]:
        data = self.session.call(
            "POST",
            f"{_API}/experiments/search",
            {"view_type": view_type.value, "max_results": max_results},
        )
        return [_experiment(e) for e in data.get("experiments", [])]

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None:
        verb = "delete" if stage == LifecycleStage.DELETED else "restore"
        self.session.call("POST", f"{_API}/experiments/{verb}", {"experiment_id": experiment_id})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.session.call(
            "POST",
            f"{_API}/experiments/update",
            {"experiment_id": experiment_id, "new_name": new_name},
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.session.call(
            "POST",
            f"{_API}/experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": key, "value": value},
        )

    # -- runs -----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        user_id: str = "",
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Sequence[RunTag] = (),
        parent_run_id: str | None = None,
    ) -> Run:
        import time

        payload: dict[str, Any] = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time if start_time is not None else int(time.time() * 1000),
            "tags": [{"key": t.key, "value": t.value} for t in tags],
        }
        if run_name:
            payload["run_name"] = run_name
        return _run(self.session.call("POST", f"{_API}/runs/create", payload)["run"])

    def artifact_uri(self, run_id: str) -> str:
        return self.get_run(run_id).info.artifact_uri

    def get_run(self, run_id: str) -> Run:
        return _run(self.session.call("GET", f"{_API}/runs/get", run_id=run_id)["run"])

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        payload: dict[str, Any] = {"run_id": run_id}
        if status is not None:
            payload["status"] = RunStatus(status).value
        if end_time is not None:
            payload["end_time"] = end_time
        if run_name:
            payload["run_name"] = run_name
        self.session.call("POST", f"{_API}/runs/update", payload)
        return self.get_run(run_id).info

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        verb = "delete" if stage == LifecycleStage.DELETED else "restore"
        self.session.call("POST", f"{_API}/runs/{verb}", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics_: Sequence[Metric] = (),
        params_: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        metrics = list(metrics_)
        params, tag_list = list(params_), list(tags)
        while metrics or params or tag_list:
            chunk_m, metrics = metrics[:_BATCH_METRICS], metrics[_BATCH_METRICS:]
            chunk_p, params = params[:_BATCH_OTHER], params[_BATCH_OTHER:]
            chunk_t, tag_list = tag_list[:_BATCH_OTHER], tag_list[_BATCH_OTHER:]
            self.session.call(
                "POST",
                f"{_API}/runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [
                        {
                            "key": m.key,
                            "value": "NaN" if math.isnan(m.value) else m.value,
                            "timestamp": m.timestamp,
                            "step": m.step,
                        }
                        for m in chunk_m
                    ],
                    "params": [{"key": p.key, "value": p.value} for p in chunk_p],
                    "tags": [{"key": t.key, "value": t.value} for t in chunk_t],
                },
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        self.session.call("POST", f"{_API}/runs/delete-tag", {"run_id": run_id, "key": key})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        found: list[Metric] = []
        token: str | None = None
        while True:
            data = self.session.call(
                "GET",
                f"{_API}/metrics/get-history",
                run_id=run_id,
                metric_key=key,
                page_token=token,
            )
            found.extend(
                Metric(
                    key, _number(m["value"]), int(m.get("timestamp") or 0), int(m.get("step") or 0)
                )
                for m in data.get("metrics", [])
            )
            token = data.get("next_page_token")
            if not token:
                return found

    def log_inputs(self, run_id: str, inputs: Iterable[DataInput]) -> None:
        datasets = [
            {
                "dataset": {
                    "name": d.path,
                    "digest": d.oid,
                    "source_type": "loopline",
                    "source": d.path,
                }
            }
            for d in inputs
        ]
        if datasets:
            self.session.call(
                "POST", f"{_API}/runs/log-inputs", {"run_id": run_id, "datasets": datasets}
            )

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        payload: dict[str, Any] = {
            "experiment_ids": list(experiment_ids),
            "filter": filter_string or "",
            "run_view_type": ViewType(view_type).value,
            "max_results": max_results,
            "order_by": order_by or [],
        }
        if page_token:
            payload["page_token"] = page_token
        data = self.session.call("POST", f"{_API}/runs/search", payload)
        return [_run(r) for r in data.get("runs", [])], data.get("next_page_token")
