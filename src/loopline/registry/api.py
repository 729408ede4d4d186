"""The registry's Python API: ``register_model``, ``RegistryClient``, ``resolve_model_uri``,
``lineage``. Registry and tracking share one metadata store."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.uris import parse_model_uri
from loopline.registry._sql import SqlRegistry
from loopline.registry.entities import Lineage, ModelVersion
from loopline.tracking.artifacts import proxied_to

__all__ = ["RegistryClient", "lineage", "register_model", "resolve_model_uri"]

_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]{32}$")


class RegistryClient(SqlRegistry):
    """Registry operations on the store behind ``tracking_uri`` (default: as for tracking)."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        from loopline.tracking.client import TrackingClient

        self.tracking = TrackingClient.for_uri(tracking_uri)
        super().__init__(self.tracking.sql.store)

    def register(
        self, model_uri: str, name: str, tags: dict[str, str] | None = None
    ) -> ModelVersion:
        """Create the registered model if needed, then a new version pointing at ``model_uri``."""
        parsed = parse_model_uri(model_uri)
        run_id = parsed.run_id
        if parsed.kind == "run":
            self.tracking.get_run(parsed.run_id or "")
            source = model_uri
        elif parsed.kind == "registry":
            version = self.resolve_version(model_uri)
            source, run_id = version.source, version.run_id
        else:
            folder = Path(parsed.path or "").resolve()
            if not (folder / "MLmodel").is_file():
                raise NotFound(f"{parsed.path} is not a model folder (no MLmodel file)")
            source = str(folder)
        try:
            self.get_registered_model(name)
        except NotFound:
            from contextlib import suppress

            from loopline.core.errors import Conflict

            with suppress(Conflict):  # registered concurrently by someone else: fine
                self.create_registered_model(name)
        return self.create_model_version(name, source, run_id=run_id, tags=tags)

    def resolve_version(self, model_uri: str) -> ModelVersion:
        parsed = parse_model_uri(model_uri)
        if parsed.kind != "registry" or parsed.name is None:
            raise InvalidInput(f"{model_uri} is not a models:/ URI")
        if parsed.alias:
            return self.get_version_by_alias(parsed.name, parsed.alias)
        if parsed.version is not None:
            return self.get_model_version(parsed.name, parsed.version)
        return self.latest_version(parsed.name)

    def resolve(self, model_uri: str) -> Path:
        """A local folder holding the model that ``model_uri`` names (downloaded if remote)."""
        parsed = parse_model_uri(model_uri)
        if parsed.kind == "path":
            folder = Path(parsed.path or "")
            if not folder.is_dir():
                raise NotFound(f"model folder {parsed.path} does not exist")
            return folder
        if parsed.kind == "registry":
            if parsed.name and _LOGGED_MODEL.match(parsed.name) and parsed.version is None:
                return self._logged_model_folder(parsed.name)
            return self.resolve(self.resolve_version(model_uri).source)
        run = self.tracking.get_run(parsed.run_id or "")
        artifacts = proxied_to(run.info.artifact_uri, self.tracking.target.artifact_root).rstrip(
            "/"
        )
        sub = parsed.artifact_path or ""
        if "://" not in artifacts or artifacts.startswith("file://"):
            folder = Path(artifacts.removeprefix("file://")) / sub
            if not folder.is_dir():
                raise NotFound(
                    f"run {parsed.run_id} has no artifact folder {sub!r}",
                    hint="check the artifact path the model was logged under",
                )
            return folder
        cache = (
            Path(tempfile.gettempdir())
            / "loopline-models"
            / hashlib.sha256(model_uri.encode()).hexdigest()[:16]
        )
        if not (cache / "MLmodel").is_file():
            self.tracking.artifacts(run.info.run_id).download(sub, cache.parent / "dl")
            (cache.parent / "dl" / Path(sub).name).replace(cache)
        return cache

    def _logged_model_folder(self, model_id: str) -> Path:
        from loopline.tracking.logged_models import SqlLoggedModels

        model = SqlLoggedModels(self.store, self.tracking.target.artifact_root).get(model_id)
        location = proxied_to(model.artifact_location, self.tracking.target.artifact_root)
        folder = Path(location.removeprefix("file://"))
        if "://" in location and not location.startswith("file://"):
            raise InvalidInput(f"logged model {model_id} lives at {location}; download it first")
        if not (folder / "MLmodel").is_file():
            raise NotFound(f"logged model {model_id} has no MLmodel file at {folder}")
        return folder

    def lineage(self, name: str, version: int | str) -> Lineage:
        mv = self.get_model_version(name, version)
        if mv.run_id is None:
            return Lineage(mv, None, None, None, {}, {}, (), None, None, None, mv.source)
        run = self.tracking.get_run(mv.run_id)
        tags = run.data.tags
        dirty = tags.get("loopline.git.dirty")
        return Lineage(
            model_version=mv,
            run_id=run.info.run_id,
            experiment_id=run.info.experiment_id,
            run_name=run.info.run_name,
            params=run.data.params,
            metrics=run.data.metrics,
            data=tuple((d.path, d.oid) for d in run.inputs),
            git_commit=tags.get("mlflow.source.git.commit"),
            git_dirty=None if dirty is None else dirty == "true",
            python=tags.get("loopline.python"),
            source=mv.source,
        )


def register_model(model_uri: str, name: str, tags: dict[str, str] | None = None) -> ModelVersion:
    """``loopline.register_model("runs:/<id>/model", "churn")``, as in MLflow."""
    return RegistryClient(_tracking_uri()).register(model_uri, name, tags)


def resolve_model_uri(model_uri: str) -> Path:
    return RegistryClient(_tracking_uri()).resolve(model_uri)


def lineage(name: str, version: int | str) -> Lineage:
    return RegistryClient(_tracking_uri()).lineage(name, version)


def _tracking_uri() -> str | None:
    from loopline.tracking import fluent

    fluent.flush()
    return fluent._tracking_uri
