"""MLflow REST API, tracking part: ``/api/2.0/mlflow/experiments/*``, ``runs/*``, ``metrics/*``."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from loopline.server._context import ServerContext
from loopline.server._http import Params, endpoint
from loopline.server._json import experiment_json, metric_json, run_info_json, run_json
from loopline.tracking._validation import (
    check_key,
    check_param_value,
    check_tag_value,
)
from loopline.tracking.client import make_metric
from loopline.tracking.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType

__all__ = ["routes"]

_MAX_HISTORY = 25_000


def _run_id(p: Params) -> str:
    return str(p.require("run_id", "run_uuid"))


def get_experiment_by_name(ctx: ServerContext, p: Params) -> dict[str, Any]:
    name = p.require("experiment_name")
    found = ctx.tracking.get_experiment_by_name(name)
    if found is None:
        if name == "Default":
            ctx.tracking.ensure_default_experiment()
            found = ctx.tracking.get_experiment_by_name(name)
        if found is None:
            from loopline.core.errors import NotFound

            raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(found)}


def create_experiment(ctx: ServerContext, p: Params) -> dict[str, Any]:
    tags = {t["key"]: t["value"] for t in p.list("tags")}
    return {
        "experiment_id": ctx.tracking.create_experiment(
            p.require("name"), p.get("artifact_location"), tags
        )
    }


def get_experiment(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {"experiment": experiment_json(ctx.tracking.get_experiment(p.require("experiment_id")))}


def delete_experiment(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.set_experiment_lifecycle(p.require("experiment_id"), LifecycleStage.DELETED)


def restore_experiment(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.set_experiment_lifecycle(p.require("experiment_id"), LifecycleStage.ACTIVE)


def update_experiment(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.rename_experiment(p.require("experiment_id"), p.require("new_name"))


def set_experiment_tag(ctx: ServerContext, p: Params) -> None:
    key = check_key("tag", p.require("key"))
    ctx.tracking.set_experiment_tag(
        p.require("experiment_id"), key, check_tag_value(key, p.get("value", ""))
    )


def search_experiments(ctx: ServerContext, p: Params) -> dict[str, Any]:
    ctx.tracking.ensure_default_experiment()
    view = ViewType(p.get("view_type", "ACTIVE_ONLY"))
    found = ctx.tracking.search_experiments(view, p.integer("max_results", 1000) or 1000)
    name_filter = str(p.get("filter", ""))
    if name_filter.startswith("name") and "=" in name_filter:
        wanted = name_filter.split("=", 1)[1].strip().strip("'\"")
        found = [e for e in found if e.name == wanted]
    return {"experiments": [experiment_json(e) for e in found]}


def create_run(ctx: ServerContext, p: Params) -> dict[str, Any]:
    tags = [
        RunTag(check_key("tag", t["key"]), check_tag_value(t["key"], t.get("value", "")))
        for t in p.list("tags")
    ]
    experiment_id = p.get("experiment_id") or ctx.tracking.ensure_default_experiment()
    tag_map = {t.key: t.value for t in tags}
    run = ctx.tracking.create_run(
        str(experiment_id),
        user_id=str(p.get("user_id", "")),
        start_time=p.integer("start_time"),
        run_name=p.get("run_name") or tag_map.get("mlflow.runName"),
        tags=tags,
        parent_run_id=tag_map.get("mlflow.parentRunId"),
    )
    return {"run": run_json(run)}


def get_run(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {"run": run_json(ctx.tracking.get_run(_run_id(p)))}


def update_run(ctx: ServerContext, p: Params) -> dict[str, Any]:
    status = p.get("status")
    info = ctx.tracking.update_run(
        _run_id(p),
        status=RunStatus(status) if status else None,
        end_time=p.integer("end_time"),
        run_name=p.get("run_name"),
    )
    run = ctx.tracking.get_run(info.run_id)
    return {"run_info": run_info_json(run)}


def delete_run(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.set_run_lifecycle(_run_id(p), LifecycleStage.DELETED)


def restore_run(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.set_run_lifecycle(_run_id(p), LifecycleStage.ACTIVE)


def _metric(item: dict[str, Any]) -> Metric:
    return make_metric(
        item.get("key"),  # type: ignore[arg-type]  # make_metric checks it
        item.get("value"),
        int(item.get("timestamp") or 0),
        int(item.get("step") or 0),
    )


def log_metric(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.log_batch(
        _run_id(p),
        [
            _metric(
                {
                    "key": p.require("key"),
                    "value": p.require("value"),
                    "timestamp": p.get("timestamp", 0),
                    "step": p.get("step", 0),
                }
            )
        ],
    )


def log_param(ctx: ServerContext, p: Params) -> None:
    key = check_key("param", p.require("key"))
    ctx.tracking.log_batch(
        _run_id(p), params_=[Param(key, check_param_value(key, p.get("value", "")))]
    )


def set_tag(ctx: ServerContext, p: Params) -> None:
    key = check_key("tag", p.require("key"))
    ctx.tracking.log_batch(_run_id(p), tags=[RunTag(key, check_tag_value(key, p.get("value", "")))])


def delete_tag(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.delete_tag(_run_id(p), p.require("key"))


def log_batch(ctx: ServerContext, p: Params) -> None:
    # Metrics the client copies onto a logged model repeat the run's own points: skip them.
    metrics = [_metric(m) for m in p.list("metrics") if not m.get("model_id")]
    params = [
        Param(check_key("param", x["key"]), check_param_value(x["key"], x.get("value", "")))
        for x in p.list("params")
    ]
    tags = [
        RunTag(check_key("tag", x["key"]), check_tag_value(x["key"], x.get("value", "")))
        for x in p.list("tags")
    ]
    if len(metrics) > 1000 or len(params) > 100 or len(tags) > 100:
        from loopline.core.errors import InvalidInput

        raise InvalidInput(
            "A batch logging request can contain at most 1000 metrics, 100 params and 100 tags"
        )
    ctx.tracking.log_batch(_run_id(p), metrics, params, tags)


def log_outputs(ctx: ServerContext, p: Params) -> None:
    ctx.tracking.get_run(_run_id(p))  # accepted; the logged model records its source run


def log_inputs(ctx: ServerContext, p: Params) -> None:
    """Datasets a Loopline client reports (source_type "loopline") are the run's data versions;
    other clients' dataset records are accepted and not stored."""
    from loopline.tracking.entities import DataInput

    run_id = _run_id(p)
    ctx.tracking.get_run(run_id)
    found = [
        DataInput(str(d["dataset"]["name"]), str(d["dataset"]["digest"]))
        for d in p.list("datasets")
        if isinstance(d, dict) and d.get("dataset", {}).get("source_type") == "loopline"
    ]
    ctx.tracking.log_inputs(run_id, found)


def get_metric_history(ctx: ServerContext, p: Params) -> dict[str, Any]:
    history = ctx.tracking.get_metric_history(_run_id(p), p.require("metric_key"))
    limit = p.integer("max_results", _MAX_HISTORY) or _MAX_HISTORY
    start = int(p.get("page_token") or 0)
    page = history[start : start + limit]
    out: dict[str, Any] = {"metrics": [metric_json(m) for m in page]}
    if start + limit < len(history):
        out["next_page_token"] = str(start + limit)
    return out if page else {}


def search_runs(ctx: ServerContext, p: Params) -> dict[str, Any]:
    found, token = ctx.tracking.search_runs(
        [str(e) for e in p.list("experiment_ids")],
        p.get("filter", ""),
        ViewType(p.get("run_view_type", "ACTIVE_ONLY")),
        p.integer("max_results", 1000) or 1000,
        p.list("order_by") or None,
        p.get("page_token"),
    )
    out: dict[str, Any] = {"runs": [run_json(r) for r in found]}
    if token:
        out["next_page_token"] = token
    return out


_PREFIX = "/api/2.0/mlflow"


def routes() -> list[Route]:
    table: list[tuple[str, Any, list[str]]] = [
        ("/experiments/get-by-name", get_experiment_by_name, ["GET"]),
        ("/experiments/create", create_experiment, ["POST"]),
        ("/experiments/get", get_experiment, ["GET"]),
        ("/experiments/delete", delete_experiment, ["POST"]),
        ("/experiments/restore", restore_experiment, ["POST"]),
        ("/experiments/update", update_experiment, ["POST"]),
        ("/experiments/set-experiment-tag", set_experiment_tag, ["POST"]),
        ("/experiments/search", search_experiments, ["GET", "POST"]),
        ("/runs/create", create_run, ["POST"]),
        ("/runs/get", get_run, ["GET"]),
        ("/runs/update", update_run, ["POST"]),
        ("/runs/delete", delete_run, ["POST"]),
        ("/runs/restore", restore_run, ["POST"]),
        ("/runs/log-metric", log_metric, ["POST"]),
        ("/runs/log-parameter", log_param, ["POST"]),
        ("/runs/set-tag", set_tag, ["POST"]),
        ("/runs/delete-tag", delete_tag, ["POST"]),
        ("/runs/log-batch", log_batch, ["POST"]),
        ("/runs/outputs", log_outputs, ["POST"]),
        ("/runs/log-inputs", log_inputs, ["POST"]),
        ("/runs/search", search_runs, ["POST", "GET"]),
        ("/metrics/get-history", get_metric_history, ["GET"]),
    ]
    return [Route(_PREFIX + path, endpoint(fn), methods=methods) for path, fn, methods in table]
