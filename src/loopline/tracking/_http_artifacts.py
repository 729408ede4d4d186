"""Run artifacts behind a tracking server's artifact proxy (``mlflow-artifacts:/...`` URIs)."""

from __future__ import annotations

import urllib.parse

from loopline.core.errors import NotFound, RemoteError
from loopline.tracking._rest import RestSession
from loopline.tracking.artifacts import PROXY_SCHEME, ArtifactInfo, ArtifactTree, safe_artifact_path

__all__ = ["HttpArtifactRepository"]

_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


class HttpArtifactRepository(ArtifactTree):
    """The same methods as :class:`ArtifactRepository`, over HTTP."""

    def __init__(self, session: RestSession, root_uri: str) -> None:
        self.session = session
        self.root_uri = root_uri.rstrip("/")
        self._base = safe_artifact_path(root_uri[len(PROXY_SCHEME) :].lstrip("/"))

    def _full(self, artifact_path: str) -> str:
        rel = safe_artifact_path(artifact_path)
        return f"{self._base}/{rel}" if rel else self._base

    def write_bytes(self, artifact_path: str, data: bytes) -> None:
        path = urllib.parse.quote(self._full(artifact_path))
        status, body = self.session.request(
            "PUT", f"{_PREFIX}/{path}", body=data, content_type="application/octet-stream"
        )
        if status >= 400:
            raise RemoteError(f"the server refused artifact {artifact_path!r}: {body[:300]!r}")

    def read_bytes(self, artifact_path: str) -> bytes:
        path = urllib.parse.quote(self._full(artifact_path))
        status, body = self.session.request("GET", f"{_PREFIX}/{path}")
        if status == 404:
            raise NotFound(f"artifact {artifact_path!r} does not exist in {self.root_uri}")
        if status >= 400:
            raise RemoteError(
                f"the server refused to send artifact {artifact_path!r}: {body[:300]!r}"
            )
        return body

    def list_artifacts(self, artifact_path: str | None = None) -> list[ArtifactInfo]:
        rel = safe_artifact_path(artifact_path)
        data = self.session.call("GET", _PREFIX, path=self._full(rel))
        return [
            ArtifactInfo(
                f"{rel}/{f['path']}" if rel else f["path"],
                bool(f.get("is_dir")),
                f.get("file_size"),
            )
            for f in data.get("files", [])
        ]
