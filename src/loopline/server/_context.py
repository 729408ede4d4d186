"""What every request handler of the tracking server reaches: the stores and the artifact root."""

from __future__ import annotations

from dataclasses import dataclass

from loopline.registry._sql import SqlRegistry
from loopline.tracking._sql_store import SqlTrackingStore
from loopline.tracking.artifacts import ArtifactRepository
from loopline.tracking.logged_models import SqlLoggedModels

__all__ = ["PROXY_LOCATION", "ServerContext", "ServerSettings"]

# New experiments created through the server keep their artifacts behind its proxy, so clients
# need no credentials of their own for the artifact storage.
PROXY_LOCATION = "mlflow-artifacts:"


@dataclass(frozen=True)
class ServerSettings:
    store_url: str
    artifacts_root: str
    token: str | None = None
    max_body_bytes: int = 512 * 1024 * 1024


@dataclass
class ServerContext:
    settings: ServerSettings
    tracking: SqlTrackingStore
    registry: SqlRegistry
    logged_models: SqlLoggedModels

    @classmethod
    def open(cls, settings: ServerSettings) -> ServerContext:
        from loopline.store import open_store

        store = open_store(settings.store_url)
        tracking = SqlTrackingStore(store, settings.artifacts_root, location_root=PROXY_LOCATION)
        return cls(
            settings,
            tracking,
            SqlRegistry(store, settings.artifacts_root),
            SqlLoggedModels(store, PROXY_LOCATION),
        )

    def artifacts(self, uri: str) -> ArtifactRepository:
        return ArtifactRepository(uri, self.settings.artifacts_root)
