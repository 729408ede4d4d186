"""MLflow REST API, model registry part: ``registered-models/*`` and ``model-versions/*``."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from loopline.server._context import ServerContext
from loopline.server._http import Params, endpoint
from loopline.server._json import model_version_json, registered_model_json

__all__ = ["routes"]


def create_registered_model(ctx: ServerContext, p: Params) -> dict[str, Any]:
    tags = {t["key"]: t["value"] for t in p.list("tags")}
    model = ctx.registry.create_registered_model(p.require("name"), tags, p.get("description"))
    return {"registered_model": registered_model_json(model)}


def get_registered_model(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {
        "registered_model": registered_model_json(
            ctx.registry.get_registered_model(p.require("name"))
        )
    }


def search_registered_models(ctx: ServerContext, p: Params) -> dict[str, Any]:
    found = ctx.registry.search_registered_models(
        p.get("filter"), p.integer("max_results", 1000) or 1000, p.list("order_by")
    )
    return {"registered_models": [registered_model_json(m) for m in found]}


def update_registered_model(ctx: ServerContext, p: Params) -> dict[str, Any]:
    model = ctx.registry.update_registered_model(p.require("name"), p.get("description"))
    return {"registered_model": registered_model_json(model)}


def rename_registered_model(ctx: ServerContext, p: Params) -> dict[str, Any]:
    model = ctx.registry.rename_registered_model(p.require("name"), p.require("new_name"))
    return {"registered_model": registered_model_json(model)}


def delete_registered_model(ctx: ServerContext, p: Params) -> None:
    ctx.registry.delete_registered_model(p.require("name"))


def set_registered_model_tag(ctx: ServerContext, p: Params) -> None:
    ctx.registry.set_registered_model_tag(
        p.require("name"), p.require("key"), str(p.get("value", ""))
    )


def delete_registered_model_tag(ctx: ServerContext, p: Params) -> None:
    ctx.registry.delete_registered_model_tag(p.require("name"), p.require("key"))


def get_latest_versions(ctx: ServerContext, p: Params) -> dict[str, Any]:
    model = ctx.registry.get_registered_model(p.require("name"))
    return {"model_versions": [model_version_json(v) for v in model.latest_versions]}


def set_alias(ctx: ServerContext, p: Params) -> None:
    ctx.registry.set_alias(p.require("name"), p.require("alias"), p.require("version"))


def delete_alias(ctx: ServerContext, p: Params) -> None:
    ctx.registry.delete_alias(p.require("name"), p.require("alias"))


def get_by_alias(ctx: ServerContext, p: Params) -> dict[str, Any]:
    version = ctx.registry.get_version_by_alias(p.require("name"), p.require("alias"))
    return {"model_version": model_version_json(version)}


def create_model_version(ctx: ServerContext, p: Params) -> dict[str, Any]:
    tags = {t["key"]: t["value"] for t in p.list("tags")}
    name = p.require("name")
    args = (p.require("source"), p.get("run_id"), p.get("description"), tags, p.get("model_id"))
    # As MLflow's server: a version of a model nobody created is RESOURCE_DOES_NOT_EXIST.
    version = ctx.registry.create_model_version(name, *args)
    return {"model_version": model_version_json(version)}


def get_model_version(ctx: ServerContext, p: Params) -> dict[str, Any]:
    return {
        "model_version": model_version_json(
            ctx.registry.get_model_version(p.require("name"), p.require("version"))
        )
    }


def search_model_versions(ctx: ServerContext, p: Params) -> dict[str, Any]:
    found = ctx.registry.search_model_versions(
        p.get("filter"), p.integer("max_results", 10_000) or 10_000
    )
    return {"model_versions": [model_version_json(v) for v in found]}


def update_model_version(ctx: ServerContext, p: Params) -> dict[str, Any]:
    version = ctx.registry.update_model_version(
        p.require("name"), p.require("version"), p.get("description")
    )
    return {"model_version": model_version_json(version)}


def delete_model_version(ctx: ServerContext, p: Params) -> None:
    ctx.registry.delete_model_version(p.require("name"), p.require("version"))


def set_model_version_tag(ctx: ServerContext, p: Params) -> None:
    ctx.registry.set_model_version_tag(
        p.require("name"), p.require("version"), p.require("key"), str(p.get("value", ""))
    )


def delete_model_version_tag(ctx: ServerContext, p: Params) -> None:
    ctx.registry.delete_model_version_tag(p.require("name"), p.require("version"), p.require("key"))


def transition_stage(ctx: ServerContext, p: Params) -> dict[str, Any]:
    version = ctx.registry.transition_stage(
        p.require("name"), p.require("version"), p.require("stage")
    )
    return {"model_version": model_version_json(version)}


def get_download_uri(ctx: ServerContext, p: Params) -> dict[str, Any]:
    version = ctx.registry.get_model_version(p.require("name"), p.require("version"))
    return {"artifact_uri": download_uri(ctx, version.source)}


def download_uri(ctx: ServerContext, source: str) -> str:
    """Where the client downloads a version's files from (its run's or logged model's folder)."""
    from loopline.core.uris import parse_model_uri

    if source.startswith("models:/m-"):
        return ctx.logged_models.get(source[len("models:/") :].strip("/")).artifact_location
    if source.startswith("runs:/"):
        parsed = parse_model_uri(source)
        run = ctx.tracking.get_run(parsed.run_id or "")
        return f"{run.info.artifact_uri.rstrip('/')}/{parsed.artifact_path}".rstrip("/")
    return source


_PREFIX = "/api/2.0/mlflow"


def routes() -> list[Route]:
    table: list[tuple[str, Any, list[str]]] = [
        ("/registered-models/create", create_registered_model, ["POST"]),
        ("/registered-models/get", get_registered_model, ["GET"]),
        ("/registered-models/search", search_registered_models, ["GET", "POST"]),
        ("/registered-models/update", update_registered_model, ["PATCH"]),
        ("/registered-models/rename", rename_registered_model, ["POST"]),
        ("/registered-models/delete", delete_registered_model, ["DELETE"]),
        ("/registered-models/set-tag", set_registered_model_tag, ["POST"]),
        ("/registered-models/delete-tag", delete_registered_model_tag, ["DELETE"]),
        ("/registered-models/get-latest-versions", get_latest_versions, ["GET", "POST"]),
        ("/model-versions/create", create_model_version, ["POST"]),
        ("/model-versions/get", get_model_version, ["GET"]),
        ("/model-versions/search", search_model_versions, ["GET", "POST"]),
        ("/model-versions/update", update_model_version, ["PATCH"]),
        ("/model-versions/delete", delete_model_version, ["DELETE"]),
        ("/model-versions/set-tag", set_model_version_tag, ["POST"]),
        ("/model-versions/delete-tag", delete_model_version_tag, ["DELETE"]),
        ("/model-versions/transition-stage", transition_stage, ["POST"]),
        ("/model-versions/get-download-uri", get_download_uri, ["GET"]),
    ]
    built = [Route(_PREFIX + path, endpoint(fn), methods=methods) for path, fn, methods in table]
    built += [
        Route(_PREFIX + "/registered-models/alias", endpoint(set_alias), methods=["POST"]),
        Route(_PREFIX + "/registered-models/alias", endpoint(get_by_alias), methods=["GET"]),
        Route(_PREFIX + "/registered-models/alias", endpoint(delete_alias), methods=["DELETE"]),
    ]
    return built
