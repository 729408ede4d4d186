"""Loopline's own REST API (``/api/v1``), documented by the OpenAPI schema it serves.

A small, resource-shaped face over the same stores: experiments, runs (with search), registered
models and version lineage. The MLflow-compatible API beside it serves the mlflow client.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from loopline.server._context import ServerContext
from loopline.server._http import Params, endpoint
from loopline.server._json import (
    experiment_json,
    model_version_json,
    registered_model_json,
    run_json,
)
from loopline.tracking.entities import ViewType

__all__ = ["OPENAPI", "routes"]


def list_experiments(ctx: ServerContext, p: Params) -> dict[str, Any]:
    ctx.tracking.ensure_default_experiment()
    return {"experiments": [experiment_json(e) for e in ctx.tracking.search_experiments()]}


def list_runs(ctx: ServerContext, p: Params) -> dict[str, Any]:
    found, token = ctx.tracking.search_runs(
        [p.path["experiment_id"]],
        p.get("filter", ""),
        ViewType(p.get("view", "ACTIVE_ONLY")),
        p.integer("max_results", 100) or 100,
        p.list("order_by") or None,
        p.get("page_token"),
    )
    return {"runs": [run_json(r) for r in found], "next_page_token": token}


def get_run(ctx: ServerContext, p: Params) -> dict[str, Any]:
    run = ctx.tracking.get_run(p.path["run_id"])
    out = run_json(run)
    out["inputs"] = {"data": [{"path": d.path, "oid": d.oid} for d in run.inputs]}
    return out


def metric_history(ctx: ServerContext, p: Params) -> dict[str, Any]:
    history = ctx.tracking.get_metric_history(p.path["run_id"], p.path["key"])
    return {
        "metrics": [{"value": m.value, "timestamp": m.timestamp, "step": m.step} for m in history]
    }


def list_models(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {
        "models": [
            registered_model_json(m) for m in ctx.registry.search_registered_models(p.get("filter"))
        ]
    }


def get_model(ctx: ServerContext, p: Params) -> dict[str, Any]:
    name = p.path["name"]
    model = registered_model_json(ctx.registry.get_registered_model(name))
    model["versions"] = [
        model_version_json(v) for v in ctx.registry.search_model_versions(f"name = '{name}'")
    ]
    return model


def lineage(ctx: ServerContext, p: Params) -> dict[str, Any]:
    version = ctx.registry.get_model_version(p.path["name"], p.path["version"])
    out: dict[str, Any] = {"model_version": model_version_json(version), "run": None}
    if version.run_id:
        run = ctx.tracking.get_run(version.run_id)
        out["run"] = get_run(ctx, Params({}, {"run_id": run.info.run_id}))
    return out


def openapi(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return OPENAPI


def _op(summary: str, params: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "get": {
            "summary": summary,
            "parameters": [
                {"name": n, "in": where, "required": where == "path", "schema": {"type": "string"}}
                for n, where in params
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": {
                    "description": "Not found",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "400": {
                    "description": "Bad request",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Loopline tracking server", "version": "1"},
    "paths": {
        "/api/v1/experiments": _op("List active experiments"),
        "/api/v1/experiments/{experiment_id}/runs": _op(
            "Search the runs of an experiment (MLflow filter syntax)",
            [
                ("experiment_id", "path"),
                ("filter", "query"),
                ("order_by", "query"),
                ("max_results", "query"),
                ("page_token", "query"),
            ],
        ),
        "/api/v1/runs/{run_id}": _op(
            "A run with params, latest metrics, tags and data versions", [("run_id", "path")]
        ),
        "/api/v1/runs/{run_id}/metrics/{key}": _op(
            "The full history of one metric", [("run_id", "path"), ("key", "path")]
        ),
        "/api/v1/models": _op("Registered models", [("filter", "query")]),
        "/api/v1/models/{name}": _op(
            "A registered model with all its versions", [("name", "path")]
        ),
        "/api/v1/models/{name}/versions/{version}/lineage": _op(
            "A model version's run, data versions and code commit",
            [("name", "path"), ("version", "path")],
        ),
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error_code", "message"],
                "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    },
}


def routes() -> list[Route]:
    table = [
        ("/api/v1/openapi.json", openapi),
        ("/api/v1/experiments", list_experiments),
        ("/api/v1/experiments/{experiment_id}/runs", list_runs),
        ("/api/v1/runs/{run_id}", get_run),
        ("/api/v1/runs/{run_id}/metrics/{key}", metric_history),
        ("/api/v1/models", list_models),
        ("/api/v1/models/{name}", get_model),
        ("/api/v1/models/{name}/versions/{version}/lineage", lineage),
    ]
    return [Route(path, endpoint(fn), methods=["GET"]) for path, fn in table]
