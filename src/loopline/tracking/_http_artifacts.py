"""Run artifacts behind a tracking server's artifact proxy (``mlflow-artifacts:/...`` URIs)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path, PurePosixPath

from loopline.core.errors import NotFound, RemoteError
from loopline.tracking._rest import RestSession
from loopline.tracking.artifacts import PROXY_SCHEME, ArtifactInfo, safe_artifact_path

__all__ = ["HttpArtifactRepository"]

_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


class HttpArtifactRepository:
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

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> str:
        rel = safe_artifact_path(artifact_path)
        name = f"{rel}/{local_file.name}" if rel else local_file.name
        self.write_bytes(name, local_file.read_bytes())
        return name

    def log_dir(self, local_dir: Path, artifact_path: str | None = None) -> list[str]:
        rel = safe_artifact_path(artifact_path)
        written = []
        for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            sub = file.relative_to(local_dir).parent.as_posix()
            dest = "/".join(x for x in (rel, "" if sub == "." else sub) if x)
            written.append(self.log_file(file, dest or None))
        return written

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

    def download(self, artifact_path: str | None, destination: Path) -> Path:
        rel = safe_artifact_path(artifact_path)
        children = self.list_artifacts(rel)
        if not children:
            target = destination / (PurePosixPath(rel).name or "artifact")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_bytes(rel))
            return target
        folder = destination / PurePosixPath(rel).name if rel else destination
        for child in children:
            inner = child.path[len(rel) + 1 :] if rel else child.path
            if child.is_dir:
                self.download(child.path, folder / PurePosixPath(inner).parent)
            else:
                target = folder / inner
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.read_bytes(child.path))
        return folder
