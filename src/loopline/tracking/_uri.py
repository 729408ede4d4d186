"""Where tracking data goes: the tracking URI, resolved the way MLflow users expect.

Order: ``set_tracking_uri(...)`` (or a ``--tracking-uri``/``--store`` flag)
> ``LOOPLINE_TRACKING_URI`` > the store of the project around the current folder
(``store.url`` from its configuration and the environment, else ``.loopline/store.db``)
> ``LOOPLINE_STORE_URL`` outside a project.
Outside a project with none of these set there is no store: that is an error, never a new
``.loopline/store.db`` in whatever folder the command ran from.
A URI is a database URL (``sqlite:///...``, ``postgresql+psycopg://...``) or a folder.
Artifacts go to ``LOOPLINE_ARTIFACT_ROOT``, else ``artifacts`` beside a SQLite store, else the
project's ``.loopline/artifacts``, else ``./loopline-artifacts``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NO_STORE_HINT", "TrackingTarget", "resolve_tracking_uri"]

NO_STORE_HINT = (
    "run `loopline init` to make this folder a project, or point at a store with "
    "LOOPLINE_STORE_URL=sqlite:///path/to/store.db (or a postgresql+psycopg:// URL), "
    "LOOPLINE_TRACKING_URI, or the command's --tracking-uri/--store option"
)


@dataclass(frozen=True)
class TrackingTarget:
    uri: str  # what the user configured (or the resolved default)
    store_url: str  # empty for a tracking server
    artifact_root: str  # empty for a tracking server (artifacts go through its proxy)
    server_url: str | None = None


def _project_dot_dir() -> Path | None:
    from loopline.core.errors import NotFound
    from loopline.core.project import DOT_DIR, find_project_root

    try:
        return find_project_root() / DOT_DIR
    except NotFound:
        return None


def _default_artifacts(store_url: str) -> str:
    if store_url.startswith("sqlite:///") and store_url != "sqlite:///:memory:":
        return str(Path(store_url[len("sqlite:///") :]).parent / "artifacts")
    dot_dir = _project_dot_dir()
    if dot_dir is not None:
        return str(dot_dir / "artifacts")
    return str(Path.cwd() / "loopline-artifacts")


def _configured_target(artifact_root: str | None) -> TrackingTarget:
    """The store configured for the current folder: its project's, else the environment's."""
    from loopline.core.config import environment_store_url, load_settings
    from loopline.core.errors import NotFound

    dot_dir = _project_dot_dir()
    if dot_dir is not None:
        store_url = load_settings(dot_dir.parent).store_url
        return TrackingTarget(str(dot_dir), store_url, artifact_root or str(dot_dir / "artifacts"))
    from_environment = environment_store_url()
    if from_environment is None:
        raise NotFound(
            f"no Loopline project at or above {Path.cwd()} and no metadata store configured",
            hint=NO_STORE_HINT,
        )
    return TrackingTarget(
        from_environment, from_environment, artifact_root or _default_artifacts(from_environment)
    )


def resolve_tracking_uri(explicit: str | None = None) -> TrackingTarget:
    uri = explicit or os.environ.get("LOOPLINE_TRACKING_URI") or ""
    artifact_root = os.environ.get("LOOPLINE_ARTIFACT_ROOT")
    if not uri:
        return _configured_target(artifact_root)
    if uri.startswith(("http://", "https://")):
        return TrackingTarget(uri, "", artifact_root or "", server_url=uri.rstrip("/"))
    if "://" in uri and not uri.startswith("file://"):
        return TrackingTarget(uri, uri, artifact_root or _default_artifacts(uri))
    folder = Path(uri.removeprefix("file://")).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        from loopline.core.errors import ConfigError

        raise ConfigError(
            f"tracking URI {uri!r} is a file: a plain path names a folder that holds "
            "store.db and artifacts/",
            hint=f"for that SQLite file use sqlite:///{folder}, or give its folder {folder.parent}",
        )
    return TrackingTarget(
        uri, f"sqlite:///{folder / 'store.db'}", artifact_root or str(folder / "artifacts")
    )
