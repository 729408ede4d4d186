"""Model URIs as MLflow spells them: ``runs:/<run_id>/path``, ``models:/name/3``,
``models:/name@alias``, ``models:/name/latest``, or a plain local folder."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopline.core.errors import InvalidInput

__all__ = ["ModelUri", "parse_model_uri"]

_RUN = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{32})(?:/(?P<path>.*))?$")
_MODEL = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))?/?$")


@dataclass(frozen=True)
class ModelUri:
    kind: str  # "run", "registry" or "path"
    run_id: str | None = None
    artifact_path: str | None = None
    name: str | None = None
    version: int | None = None  # None with kind "registry" and no alias means "latest"
    alias: str | None = None
    path: str | None = None


def parse_model_uri(uri: str) -> ModelUri:
    if uri.startswith("runs:/"):
        match = _RUN.match(uri)
        if not match:
            raise _bad(uri, "runs:/ URIs look like runs:/<32-hex run id>/<artifact path>")
        return ModelUri(
            "run", run_id=match["run_id"], artifact_path=(match["path"] or "").strip("/")
        )
    if uri.startswith("models:/"):
        match = _MODEL.match(uri)
        if not match:
            raise _bad(uri, "models:/ URIs look like models:/NAME/VERSION or models:/NAME@ALIAS")
        if match["alias"]:
            return ModelUri("registry", name=match["name"], alias=match["alias"])
        version = match["version"]
        if version is None or version == "latest":
            return ModelUri("registry", name=match["name"])
        if not version.isdigit():
            raise _bad(uri, f"version {version!r} is not a number (or 'latest')")
        return ModelUri("registry", name=match["name"], version=int(version))
    if "://" in uri or ":/" in uri.split("/", 1)[0]:
        if uri.startswith("file://"):
            return ModelUri("path", path=uri[len("file://") :])
        raise _bad(uri, "expected runs:/, models:/ or a local folder")
    return ModelUri("path", path=uri)


def _bad(uri: str, why: str) -> InvalidInput:
    return InvalidInput(f"model URI {uri!r} is not valid: {why}")
