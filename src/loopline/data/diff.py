"""``loopline diff [REV]``: which tracked files changed between a git revision and the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loopline.core.errors import LooplineError, NotFound
from loopline.data.git import (
    git_show_files,
    head_commit,
    is_git_work_tree,
    list_files_at,
    resolve_revision,
)
from loopline.data.pointer import POINTER_SUFFIX, Pointer, parse_pointer
from loopline.data.workspace import Workspace
from loopline.objects.build import build_object
from loopline.objects.manifest import is_dir_oid

__all__ = ["DataDiff", "diff"]


@dataclass
class DataDiff:
    added: list[dict[str, object]] = field(default_factory=list)
    deleted: list[dict[str, object]] = field(default_factory=list)
    modified: list[dict[str, object]] = field(default_factory=list)
    not_in_cache: list[dict[str, object]] = field(default_factory=list)

    def as_json(self) -> dict[str, list[dict[str, object]]]:
        """The shape of ``dvc diff --json``."""
        return {
            "added": list(self.added),
            "deleted": list(self.deleted),
            "modified": list(self.modified),
            "renamed": [],
            "not in cache": list(self.not_in_cache),
        }


def diff(ws: Workspace, rev: str = "HEAD") -> DataDiff:
    if rev == "HEAD" and head_commit(ws.root) is None and is_git_work_tree(ws.root):
        old: dict[str, str] = {}  # no commit yet: everything tracked is new, as in DVC
    else:
        old = _pointers_at(ws.root, resolve_revision(ws.root, rev))
    new = {p.path: _workspace_object(ws, p) for p in ws.pointers()}
    result = DataDiff()
    for path in sorted(set(old) | set(new)):
        before = old.get(path)
        after, manifest_files = new.get(path, (None, None))
        if before == after:
            continue
        _compare(ws, path, before, after, manifest_files, result)
    return result


def _workspace_object(ws: Workspace, pointer: Pointer) -> tuple[str | None, dict[str, str] | None]:
    """The workspace content's id and, for a folder, its files (read from the disk itself)."""
    try:
        built = build_object(
            ws.root, pointer.path, ws.state, odb=ws.odb, with_files=True, jobs=ws.settings.jobs
        )
    except NotFound:
        return None, {}
    if built.manifest is None:
        return built.oid, {pointer.path: built.oid}
    return built.oid, {f"{pointer.path}/{e.relpath}": e.hash for e in built.manifest.entries}


def _pointers_at(root: Path, commit: str) -> dict[str, str]:
    files = list_files_at(root, commit, POINTER_SUFFIX)
    found: dict[str, str] = {}
    for name, data in git_show_files(root, commit, files).items():
        try:
            pointer = parse_pointer(name, data.decode("utf-8", "replace"))
        except LooplineError:
            continue  # a broken pointer in history compares as absent
        found[pointer.path] = pointer.oid
    return found


def _files_of(ws: Workspace, path: str, oid: str | None) -> dict[str, str] | None:
    """``{file path: hash}`` for an object, or None when a manifest is not in the cache."""
    if oid is None:
        return {}
    if not is_dir_oid(oid):
        return {path: oid}
    if not ws.odb.exists(oid):
        return None
    return {f"{path}/{e.relpath}": e.hash for e in ws.odb.read_manifest(oid).entries}


def _compare(
    ws: Workspace,
    path: str,
    before: str | None,
    after: str | None,
    new_files: dict[str, str] | None,
    out: DataDiff,
) -> None:
    old_files = _files_of(ws, path, before)
    if old_files is None or new_files is None:
        # Without both manifests only the folder as a whole can be compared.
        if before is None:
            out.added.append({"path": path + "/", "hash": str(after)})
        elif after is None:
            out.deleted.append({"path": path + "/", "hash": before})
        else:
            out.modified.append({"path": path + "/", "hash": {"old": before, "new": after}})
        if old_files is None:
            out.not_in_cache.append({"path": path + "/", "hash": str(before)})
        return
    for file in sorted(set(old_files) | set(new_files)):
        a, b = old_files.get(file), new_files.get(file)
        if a == b:
            continue
        if a is None:
            out.added.append({"path": file, "hash": str(b)})
        elif b is None:
            out.deleted.append({"path": file, "hash": a})
        else:
            out.modified.append({"path": file, "hash": {"old": a, "new": b}})
