"""The registry behind an http(s) tracking URI, over the MLflow-compatible REST API."""

from __future__ import annotations

from typing import Any

from loopline.core.errors import NotFound
from loopline.registry.entities import ModelVersion, RegisteredModel
from loopline.tracking._rest import RestSession

__all__ = ["RestRegistry"]

_API = "/api/2.0/mlflow"


def _version(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=data["name"],
        version=int(data["version"]),
        creation_timestamp=int(data.get("creation_timestamp") or 0),
        last_updated_timestamp=int(data.get("last_updated_timestamp") or 0),
        source=data.get("source", ""),
        run_id=data.get("run_id") or None,
        status=data.get("status", "READY"),
        current_stage=data.get("current_stage", "None"),
        description=data.get("description") or None,
        model_id=data.get("model_id"),
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
        aliases=tuple(data.get("aliases", [])),
    )


def _model(data: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=data["name"],
        creation_timestamp=int(data.get("creation_timestamp") or 0),
        last_updated_timestamp=int(data.get("last_updated_timestamp") or 0),
        description=data.get("description") or None,
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
        aliases={a["alias"]: int(a["version"]) for a in data.get("aliases", [])},
        latest_versions=tuple(_version(v) for v in data.get("latest_versions", [])),
    )


class RestRegistry:
    def __init__(self, session: RestSession) -> None:
        self.session = session

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        payload = {"name": name, "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        if description:
            payload["description"] = description
        return _model(
            self.session.call("POST", f"{_API}/registered-models/create", payload)[
                "registered_model"
            ]
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return _model(
            self.session.call("GET", f"{_API}/registered-models/get", name=name)["registered_model"]
        )

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
    ) -> list[RegisteredModel]:
        data = self.session.call(
            "GET", f"{_API}/registered-models/search", filter=filter_string, max_results=max_results
        )
        return [_model(m) for m in data.get("registered_models", [])]

    def delete_registered_model(self, name: str) -> None:
        self.session.call("DELETE", f"{_API}/registered-models/delete", {"name": name})

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        data = self.session.call(
            "POST", f"{_API}/registered-models/rename", {"name": name, "new_name": new_name}
        )
        return _model(data["registered_model"])

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.session.call(
            "DELETE", f"{_API}/model-versions/delete", {"name": name, "version": str(version)}
        )

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        payload: dict[str, Any] = {
            "name": name,
            "source": source,
            "run_id": run_id or "",
            "description": description or "",
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if model_id:
            payload["model_id"] = model_id
        return _version(
            self.session.call("POST", f"{_API}/model-versions/create", payload)["model_version"]
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        data = self.session.call(
            "GET", f"{_API}/model-versions/get", name=name, version=str(version)
        )
        return _version(data["model_version"])

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int = 10_000
    ) -> list[ModelVersion]:
        data = self.session.call(
            "GET", f"{_API}/model-versions/search", filter=filter_string, max_results=max_results
        )
        return [_version(v) for v in data.get("model_versions", [])]

    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        self.session.call(
            "POST",
            f"{_API}/registered-models/alias",
            {"name": name, "alias": alias, "version": str(version)},
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self.session.call(
            "DELETE", f"{_API}/registered-models/alias", {"name": name, "alias": alias}
        )

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        data = self.session.call("GET", f"{_API}/registered-models/alias", name=name, alias=alias)
        return _version(data["model_version"])

    def latest_version(self, name: str) -> ModelVersion:
        model = self.get_registered_model(name)
        if not model.latest_versions:
            raise NotFound(f"model {name!r} has no versions yet", hint="register one first")
        return max(model.latest_versions, key=lambda v: v.version)

    def download_uri(self, name: str, version: int | str) -> str:
        data = self.session.call(
            "GET", f"{_API}/model-versions/get-download-uri", name=name, version=str(version)
        )
        return str(data["artifact_uri"])
