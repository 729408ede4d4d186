"""``loopline status``: which tracked paths differ from their pointer files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopline.core.errors import LooplineError, NotFound
from loopline.data.pointer import Pointer
from loopline.data.workspace import Workspace
from loopline.objects.build import build_object

__all__ = ["DataStatus", "status", "status_as_json"]


@dataclass(frozen=True)
class DataStatus:
    pointer: Pointer
    state: str  # "modified", "deleted", "not in cache", "corrupt in cache"
    current_oid: str | None = None
    in_cache: bool = True  # whether the cache holds what the pointer names (checkout can restore)


def status(ws: Workspace, targets: Sequence[str] | None = None) -> list[DataStatus]:
    """Tracked paths whose workspace content or cache copy is not what the pointer says."""
    changes: list[DataStatus] = []
    for pointer in ws.pointers(targets):
        try:
            built = build_object(ws.root, pointer.path, ws.state, jobs=ws.settings.jobs)
        except NotFound:
            changes.append(DataStatus(pointer, "deleted", in_cache=_all_cached(ws, pointer)))
            continue
        if built.oid != pointer.oid:
            # A hardlinked (or symlinked) file edited in place changed the cache object too:
            # say so, rather than suggest a checkout that has nothing intact to restore.
            if _edited_through_link(ws, pointer):
                changes.append(DataStatus(pointer, "corrupt in cache", built.oid))
            else:
                changes.append(
                    DataStatus(pointer, "modified", built.oid, in_cache=_all_cached(ws, pointer))
                )
        elif not ws.odb.exists(pointer.oid):
            changes.append(DataStatus(pointer, "not in cache", built.oid, in_cache=False))
        elif _damaged(ws, pointer):
            changes.append(DataStatus(pointer, "corrupt in cache", built.oid))
    return changes


def _all_cached(ws: Workspace, pointer: Pointer) -> bool:
    """Whether the cache holds everything the pointer names: a folder's listing alone (what
    an interrupted pull leaves) is not enough for a checkout."""
    if not ws.odb.exists(pointer.oid):
        return False
    if not pointer.is_dir:
        return True
    try:
        entries = ws.odb.read_manifest(pointer.oid).entries
    except LooplineError:
        return False
    return all(ws.odb.exists(e.hash) for e in entries)


def _edited_through_link(ws: Workspace, pointer: Pointer) -> bool:
    """Whether a cache object the pointer names was changed by editing the workspace file
    linked to it (same file, bytes no longer matching its id)."""
    if not {"hardlink", "symlink"} & set(ws.settings.link_types):
        return False
    if not ws.odb.exists(pointer.oid):
        return False
    oids = [pointer.oid]
    if pointer.is_dir:
        try:
            oids += [e.hash for e in ws.odb.read_manifest(pointer.oid).entries]
        except LooplineError:
            return True
    return bool(ws.odb.find_corrupt(oids, quarantine=False))


def _damaged(ws: Workspace, pointer: Pointer) -> bool:
    """True if the pointer's own cached object (a file, or a folder's manifest) changed since
    it was stored: one ``stat`` and one lookup, re-hashed only when the stat differs. The files
    inside a folder are checked when they are used (checkout, push) or by ``--verify``: a
    no-op ``status`` stays one walk. Reported, not moved: status changes nothing."""
    return bool(ws.odb.find_corrupt([pointer.oid], quarantine=False))


def status_as_json(changes: list[DataStatus]) -> dict[str, list[dict[str, dict[str, str]]]]:
    """The shape ``dvc status --json`` prints: pointer file → [{"changed outs": {path: state}}]."""
    return {c.pointer.file: [{"changed outs": {c.pointer.path: c.state}}] for c in changes}
