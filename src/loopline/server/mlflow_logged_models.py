"""MLflow 3 logged-model endpoints: ``/api/2.0/mlflow/logged-models*``."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from loopline.server._context import ServerContext
from loopline.server._http import Params, endpoint
from loopline.server._json import logged_model_json

__all__ = ["routes"]


def _status(raw: Any) -> str:
    text = str(raw or "READY").upper()
    return text.removeprefix("LOGGED_MODEL_")


def create(ctx: ServerContext, p: Params) -> dict[str, Any]:
    experiment_id = str(p.require("experiment_id"))
    ctx.tracking.get_experiment(experiment_id)
    model = ctx.logged_models.create(
        experiment_id,
        str(p.get("name", "model")),
        p.get("source_run_id"),
        p.get("model_type"),
        {t["key"]: t["value"] for t in p.list("tags")},
        {x["key"]: x["value"] for x in p.list("params")},
    )
    return {"model": logged_model_json(model)}


def get(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {"model": logged_model_json(ctx.logged_models.get(p.path["model_id"]))}


def finalize(ctx: ServerContext, p: Params) -> dict[str, Any]:
    model = ctx.logged_models.finalize(p.path["model_id"], _status(p.get("status")))
    return {"model": logged_model_json(model)}


def delete(ctx: ServerContext, p: Params) -> None:
    ctx.logged_models.delete(p.path["model_id"])


def set_tags(ctx: ServerContext, p: Params) -> None:
    ctx.logged_models.set_tags(p.path["model_id"], {t["key"]: t["value"] for t in p.list("tags")})


def search(ctx: ServerContext, p: Params) -> dict[str, Any]:
    found = ctx.logged_models.search(
        [str(e) for e in p.list("experiment_ids")],
        p.integer("max_results", 100) or 100,
        str(p.get("filter") or ""),
    )
    return {"models": [logged_model_json(m) for m in found]} if found else {}


_PREFIX = "/api/2.0/mlflow/logged-models"


def routes() -> list[Route]:
    return [
        Route(_PREFIX, endpoint(create), methods=["POST"]),
        Route(_PREFIX + "/search", endpoint(search), methods=["POST", "GET"]),
        Route(_PREFIX + "/{model_id}", endpoint(get), methods=["GET"]),
        Route(_PREFIX + "/{model_id}", endpoint(finalize), methods=["PATCH"]),
        Route(_PREFIX + "/{model_id}", endpoint(delete), methods=["DELETE"]),
        Route(_PREFIX + "/{model_id}/tags", endpoint(set_tags), methods=["PATCH"]),
    ]
