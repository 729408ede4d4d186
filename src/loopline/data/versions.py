"""``loopline versions``: every version of tracked data ``add`` recorded, with its git commit.

A version's commit is the first git commit whose pointer file records it: the commit that holds
the data, found in git's history when asked (so it stays true after amends and rebases), and
``None`` (shown as "uncommitted") until the pointer is committed. ``add`` cannot know it: it runs
before the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from loopline.core.errors import NotFound
from loopline.data.git import first_commit_with
from loopline.data.pointer import POINTER_SUFFIX, pointer_path_for
from loopline.data.workspace import Workspace

__all__ = ["TrackedVersion", "list_versions"]


@dataclass(frozen=True)
class TrackedVersion:
    path: str
    oid: str
    size: int
    nfiles: int | None
    git_commit: str | None  # the first commit whose pointer file holds this version
    recorded_at: float


def list_versions(ws: Workspace, path: str | None = None) -> list[TrackedVersion]:
    """Recorded versions, newest first, of every path or of ``path`` (data or pointer file)."""
    from loopline.store import list_data_versions, open_store

    rel = ws.relpath(path).removesuffix(POINTER_SUFFIX) if path else None
    store = open_store(ws.settings.store_url)
    try:
        found = list_data_versions(store, rel)
    finally:
        store.close()
    if rel is not None and not found:
        raise NotFound(
            f"no versions of {path} are recorded",
            hint="`loopline versions` lists every tracked path; versions are recorded by "
            f"`loopline add {rel}`",
        )
    versions = [TrackedVersion(v.path, v.oid, v.size, v.nfiles, None, v.recorded_at) for v in found]
    return [
        replace(v, git_commit=first_commit_with(ws.root, pointer_path_for(v.path), v.oid))
        for v in versions
    ]
