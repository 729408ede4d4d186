"""Where tracking data goes: the tracking URI, resolved the way MLflow users expect.

Order: ``set_tracking_uri(...)`` > ``LOOPLINE_TRACKING_URI`` > the project's metadata store
(``.loopline/store.db`` of the project around the current folder) > ``./.loopline/store.db``.
A URI is a database URL (``sqlite:///...``, ``postgresql+psycopg://...``) or a folder.
Artifacts go to ``LOOPLINE_ARTIFACT_ROOT``, else ``.loopline/artifacts`` beside the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TrackingTarget", "resolve_tracking_uri"]


@dataclass(frozen=True)
class TrackingTarget:
    uri: str  # what the user configured (or the resolved default)
    store_url: str  # empty for a tracking server
    artifact_root: str  # empty for a tracking server (artifacts go through its proxy)
    server_url: str | None = None


def _default_root() -> Path:
    from loopline.core.errors import NotFound
    from loopline.core.project import DOT_DIR, find_project_root

    try:
        return find_project_root() / DOT_DIR
    except NotFound:
        return Path.cwd() / DOT_DIR


def resolve_tracking_uri(explicit: str | None = None) -> TrackingTarget:
    uri = explicit or os.environ.get("LOOPLINE_TRACKING_URI") or ""
    artifact_root = os.environ.get("LOOPLINE_ARTIFACT_ROOT")
    if not uri:
        from loopline.core.config import load_settings

        root = _default_root()
        store_url = (
            load_settings(root.parent).store_url
            if root.is_dir()
            else f"sqlite:///{root / 'store.db'}"
        )
        return TrackingTarget(str(root), store_url, artifact_root or str(root / "artifacts"))
    if uri.startswith(("http://", "https://")):
        return TrackingTarget(uri, "", artifact_root or "", server_url=uri.rstrip("/"))
    if "://" in uri and not uri.startswith("file://"):
        default_artifacts = Path.cwd() / ".loopline" / "artifacts"
        if uri.startswith("sqlite:///"):
            default_artifacts = Path(uri[len("sqlite:///") :]).parent / "artifacts"
        return TrackingTarget(uri, uri, artifact_root or str(default_artifacts))
    folder = Path(uri.removeprefix("file://")).expanduser().resolve()
    return TrackingTarget(
        uri, f"sqlite:///{folder / 'store.db'}", artifact_root or str(folder / "artifacts")
    )
