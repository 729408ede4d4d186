"""Run artifacts: files stored under a run's ``artifact_uri`` (a local folder or an fsspec URL).

Artifact paths are always relative and can never leave the run's folder: ``..``, absolute paths
and symlinks that point outside are refused.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from loopline.core.errors import InvalidInput, NotFound

__all__ = [
    "PROXY_SCHEME",
    "ArtifactInfo",
    "ArtifactRepository",
    "ArtifactTree",
    "proxied_to",
    "safe_artifact_path",
]


@dataclass(frozen=True)
class ArtifactInfo:
    path: str
    is_dir: bool
    file_size: int | None


def safe_artifact_path(path: str | None) -> str:
    """A normalised relative POSIX path, or '' for the root; refuses anything that escapes."""
    if path is None or path in ("", ".", "/"):
        return ""
    if "\\" in path or "\0" in path:
        raise InvalidInput(f"artifact path {path!r} contains a backslash or NUL")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInput(
            f"artifact path {path!r} escapes the run's artifact folder",
            hint="use a relative path inside the run, without '..'",
        )
    return "/".join(p for p in pure.parts if p not in ("", "."))


def _local_root(uri: str) -> Path | None:
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" not in uri:
        return Path(uri)
    return None


PROXY_SCHEME = "mlflow-artifacts:"


def proxied_to(uri: str, proxy_root: str | None) -> str:
    """``mlflow-artifacts:/1/run/artifacts`` → ``<proxy_root>/1/run/artifacts`` (the place a
    tracking server's artifact proxy keeps it)."""
    if not uri.startswith(PROXY_SCHEME):
        return uri
    if not proxy_root:
        raise InvalidInput(
            f"artifact URI {uri} is served by a tracking server's artifact proxy",
            hint="set LOOPLINE_ARTIFACT_ROOT to the server's artifact folder, "
            "or read it through the server",
        )
    rest = safe_artifact_path(uri[len(PROXY_SCHEME) :].lstrip("/"))
    return f"{proxy_root.rstrip('/')}/{rest}" if rest else proxy_root


class ArtifactTree:
    """Folder-level operations built on three primitives (``write_bytes``, ``read_bytes``,
    ``list_artifacts``), shared by the local/fsspec repository and the HTTP proxy one."""

    root_uri: str

    def write_bytes(self, artifact_path: str, data: bytes) -> None:
        raise NotImplementedError

    def read_bytes(self, artifact_path: str) -> bytes:
        raise NotImplementedError

    def list_artifacts(self, artifact_path: str | None = None) -> list[ArtifactInfo]:
        raise NotImplementedError

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

    def download(self, artifact_path: str | None, destination: Path) -> Path:
        """Copy a file or a folder of artifacts to ``destination``; returns the local path."""
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


class ArtifactRepository(ArtifactTree):
    """The artifacts of one run (or one logged model) at ``root_uri``."""

    def __init__(self, root_uri: str, proxy_root: str | None = None) -> None:
        self.root_uri = proxied_to(root_uri, proxy_root).rstrip("/")
        self._local = _local_root(self.root_uri)

    def _resolve(self, artifact_path: str) -> Path:
        assert self._local is not None
        rel = safe_artifact_path(artifact_path)
        target = self._local / rel if rel else self._local
        root = os.path.realpath(self._local)
        real = os.path.realpath(target)
        if real != root and not real.startswith(root + os.sep):
            raise InvalidInput(
                f"artifact path {artifact_path!r} leads outside the run's artifact folder "
                "through a symlink"
            )
        return target

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> str:
        """Copy the file (without reading it into memory when the repository is local)."""
        if self._local is None:
            return super().log_file(local_file, artifact_path)
        rel = safe_artifact_path(artifact_path)
        name = f"{rel}/{local_file.name}" if rel else local_file.name
        target = self._resolve(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(local_file, tmp)
        os.replace(tmp, target)
        return name

    def write_bytes(self, artifact_path: str, data: bytes) -> None:
        rel = safe_artifact_path(artifact_path)
        if not rel:
            raise InvalidInput("an artifact needs a file name")
        if self._local is not None:
            target = self._resolve(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            return
        fs, root = self._fs()
        fs.pipe_file(f"{root}/{rel}", data)

    def read_bytes(self, artifact_path: str) -> bytes:
        rel = safe_artifact_path(artifact_path)
        try:
            if self._local is not None:
                return self._resolve(rel).read_bytes()
            fs, root = self._fs()
            return bytes(fs.cat_file(f"{root}/{rel}"))
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(
                f"artifact {artifact_path!r} does not exist in {self.root_uri}"
            ) from None

    def list_artifacts(self, artifact_path: str | None = None) -> list[ArtifactInfo]:
        """Direct children of a folder, with paths relative to the repository root."""
        rel = safe_artifact_path(artifact_path)
        if self._local is None:
            return self._list_remote(rel)
        folder = self._resolve(rel)
        if not folder.is_dir():
            return []
        infos = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                infos.append(ArtifactInfo(child, True, None))
            else:
                infos.append(ArtifactInfo(child, False, entry.stat().st_size))
        return infos

    def _list_remote(self, rel: str) -> list[ArtifactInfo]:
        fs, root = self._fs()
        base = f"{root}/{rel}" if rel else root
        try:
            entries = fs.ls(base, detail=True)
        except FileNotFoundError:
            return []
        infos = []
        for e in entries:
            name = str(e["name"]).rstrip("/").rsplit("/", 1)[-1]
            child = f"{rel}/{name}" if rel else name
            is_dir = e.get("type") == "directory"
            infos.append(ArtifactInfo(child, is_dir, None if is_dir else int(e.get("size") or 0)))
        return sorted(infos, key=lambda i: i.path)

    def _fs(self) -> tuple[Any, str]:
        import fsspec.core

        fs, root = fsspec.core.url_to_fs(self.root_uri)
        return fs, str(root).rstrip("/")
