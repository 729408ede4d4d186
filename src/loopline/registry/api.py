"""The registry's Python API: ``register_model``, ``RegistryClient``, ``resolve_model_uri``,
``lineage``. Registry and tracking share one metadata store."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.uris import parse_model_uri
from loopline.registry._rest import RestRegistry
from loopline.registry._sources import local_source_path
from loopline.registry._sql import SqlRegistry
from loopline.registry.entities import Lineage, ModelVersion
from loopline.tracking.artifacts import proxied_to

__all__ = ["RegistryClient", "lineage", "register_model", "resolve_model_uri"]

_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]{32}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")  # a URI, not a path (nor C:\)


class RegistryClient:
    """Registry operations on the store behind ``tracking_uri`` (default: as for tracking):
    the SQL database itself, or a tracking server's REST API. Every method of
    :class:`~loopline.registry._sql.SqlRegistry` is available here."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        from loopline.tracking.client import TrackingClient

        self.tracking = TrackingClient.for_uri(tracking_uri)
        session = self.tracking.session
        if session is not None:
            self.backend: SqlRegistry | RestRegistry = RestRegistry(session)
        else:
            self.backend = SqlRegistry(
                self.tracking.sql.store,  # type: ignore[attr-defined]
                self.tracking.target.artifact_root,
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

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
            source = self._store_folder(folder, name)
        try:
            self.backend.get_registered_model(name)
        except NotFound:
            from contextlib import suppress

            from loopline.core.errors import Conflict

            with suppress(Conflict):  # registered concurrently by someone else: fine
                self.backend.create_registered_model(name)
        return self.backend.create_model_version(name, source, run_id=run_id, tags=tags)

    def _store_folder(self, folder: Path, name: str) -> str:
        """A copy of a model folder in the store's artifacts (a version never points at a
        folder that can change or vanish under it); the folder itself if already there."""
        import uuid

        root = "" if self.tracking.session is not None else self.tracking.target.artifact_root
        if root and "://" not in root:
            real_root = Path(root).resolve()
            if folder == real_root or real_root in folder.parents:
                return str(folder)
        # Through a tracking server, the copy goes to its artifact proxy.
        location = (
            f"{root.rstrip('/')}/registered/{name}/{uuid.uuid4().hex}"
            if root
            else f"mlflow-artifacts:/registered/{name}/{uuid.uuid4().hex}"
        )
        self.tracking.artifacts_at(location).log_dir(folder)
        return location

    def resolve_version(self, model_uri: str) -> ModelVersion:
        parsed = parse_model_uri(model_uri)
        if parsed.kind != "registry" or parsed.name is None:
            raise InvalidInput(f"{model_uri} is not a models:/ URI")
        if parsed.alias:
            return self.backend.get_version_by_alias(parsed.name, parsed.alias)
        if parsed.version is not None:
            return self.backend.get_model_version(parsed.name, parsed.version)
        return self.backend.latest_version(parsed.name)

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
                return self._materialize(self._logged_model_location(parsed.name), model_uri)
            source = self.resolve_version(model_uri).source
            if source.lower().startswith("file:") or not _SCHEME.match(source):
                # Opened exactly as the registry checked it: no '..', '#', '?' tricks.
                return self.resolve(local_source_path(source))
            if parse_model_uri(source).kind == "path":
                return self._materialize(source, model_uri)  # mlflow-artifacts:, s3://, ...
            return self.resolve(source)
        run = self.tracking.get_run(parsed.run_id or "")
        location = run.info.artifact_uri.rstrip("/")
        if parsed.artifact_path:
            location += "/" + parsed.artifact_path
        return self._materialize(location, model_uri)

    def _logged_model_location(self, model_id: str) -> str:
        session = self.tracking.session
        if session is not None:
            data = session.call("GET", f"/api/2.0/mlflow/logged-models/{model_id}")
            return str(data["model"]["info"]["artifact_uri"])
        from loopline.tracking.logged_models import SqlLoggedModels

        assert isinstance(self.backend, SqlRegistry)
        return SqlLoggedModels(self.backend.store, "").get(model_id).artifact_location

    def _materialize(self, location: str, model_uri: str) -> Path:
        """A local path for an artifact location: itself if on this disk, else a download."""
        root = self.tracking.target.artifact_root or None
        if self.tracking.session is None or not location.startswith("mlflow-artifacts:"):
            local = proxied_to(location, root)
            if "://" not in local or local.startswith("file://"):
                folder = Path(local.removeprefix("file://"))
                if not (folder / "MLmodel").is_file():
                    raise NotFound(
                        f"{model_uri} has no model files at {folder}",
                        hint="check the artifact path the model was logged under",
                    )
                return folder
        digest = hashlib.sha256(f"{self.tracking.target.uri}|{location}".encode()).hexdigest()[:16]
        cache = Path(tempfile.gettempdir()) / "loopline-models" / digest
        if not (cache / "MLmodel").is_file():
            scratch = Path(
                tempfile.mkdtemp(
                    prefix="download-", dir=cache.parent if cache.parent.exists() else None
                )
            )
            self.tracking.artifacts_at(location).download("", scratch)
            if not (scratch / "MLmodel").is_file():
                raise NotFound(f"{model_uri} has no MLmodel file at {location}")
            cache.parent.mkdir(parents=True, exist_ok=True)
            scratch.replace(cache)
        return cache

    def lineage(self, name: str, version: int | str) -> Lineage:
        mv = self.backend.get_model_version(name, version)
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
