"""Tracked data across git history: which revisions to look at, and what each one references.

``push``/``pull``/``fetch`` with ``--all-branches``, ``--all-tags`` or ``--all-commits`` and
``gc --all-commits`` share this module. A revision references every object named by its
pointer files and by its ``loopline.lock``; identical pointer files in many commits are the
same git blob, so each blob is read and parsed once however long the history is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import InvalidInput, LooplineError
from loopline.data.git import _git, cat_objects
from loopline.data.pointer import POINTER_SUFFIX, Pointer, parse_pointer

__all__ = [
    "RevisionScope",
    "pointers_in_revisions",
    "pointers_in_scope",
    "scope_revisions",
]

_LOCK_NAME = "loopline.lock"  # pipeline._model.LOCK_NAME; data must not import the pipeline


@dataclass(frozen=True)
class RevisionScope:
    """Which git revisions besides the workspace a command covers."""

    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False

    @property
    def empty(self) -> bool:
        return not (self.all_branches or self.all_tags or self.all_commits)


def scope_revisions(root: Path, scope: RevisionScope) -> list[str]:
    """The commit ids ``scope`` names (each once), in git's order; none for an empty scope."""
    if scope.empty:
        return []
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise InvalidInput(
            f"{root} is not a git repository, so there are no branches, tags or commits to cover",
            hint="drop --all-branches/--all-tags/--all-commits, or `git init` and commit",
        )
    found: list[str] = []
    if scope.all_commits:
        found += _lines(_git(root, "rev-list", "--all").stdout)
    else:
        if scope.all_branches:
            found += _refs(root, "refs/heads/")
        if scope.all_tags:
            found += _refs(root, "refs/tags/")
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if head.returncode == 0:
        found += _lines(head.stdout)
    return list(dict.fromkeys(found))


def _refs(root: Path, prefix: str) -> list[str]:
    # %(*objectname) is the commit an annotated tag points to; empty for lightweight refs.
    fmt = "%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)"
    out = _git(root, "for-each-ref", f"--format={fmt}", prefix).stdout
    return _lines(out)


def _lines(out: bytes) -> list[str]:
    return [line for line in out.decode().split() if line]


def pointers_in_revisions(
    root: Path, commits: Iterable[str], *, include_uncached: bool = False
) -> list[Pointer]:
    """Every pointer (one per distinct pointer-file blob and lock out) in ``commits``.

    Lock outs come back as pointers whose ``file`` is the lock. A pointer file or lock that
    does not parse in some old commit references nothing (it cannot keep data alive).
    """
    prefix = _prefix(root)
    blobs: dict[str, set[str]] = {}  # blob id -> the paths it sits at (relative to the root)
    for commit in commits:
        for blob, path in _tracked_files(root, commit, prefix):
            blobs.setdefault(blob, set()).add(path)
    return _pointers_from(root, blobs, include_uncached)


def pointers_in_scope(
    root: Path, scope: RevisionScope, *, include_uncached: bool = False
) -> tuple[list[Pointer], int]:
    """The pointers of every revision ``scope`` names, and how many commits that is.

    For every commit, one ``git log --raw`` lists each pointer-file and lock blob that any
    commit introduced (a blob in some commit's tree was introduced by that commit or an
    ancestor), instead of listing each commit's whole tree.
    """
    commits = scope_revisions(root, scope)
    if not scope.all_commits:
        return pointers_in_revisions(root, commits, include_uncached=include_uncached), len(commits)
    prefix = _prefix(root)
    done = _git(
        root,
        "log",
        "--all",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "-m",
        "--root",
        "--format=",
        "--full-history",  # keep every commit that changed a matching path, merges too
        "--",
        f":(top,glob){prefix}**/*{POINTER_SUFFIX}",
        f":(top,glob){prefix}{_LOCK_NAME}",
    )
    blobs: dict[str, set[str]] = {}
    fields = done.stdout.decode("utf-8", "replace").split("\0")
    for i, meta in enumerate(fields[:-1]):
        meta = meta.strip()  # commits are separated by newlines; a path follows each record
        parts = meta.split()
        if not meta.startswith(":") or len(parts) < 5:
            continue
        name, blob = fields[i + 1], parts[3]
        rel = name[len(prefix) :] if name.startswith(prefix) else None
        if rel is None or set(blob) == {"0"} or not _wanted(rel):
            continue
        blobs.setdefault(blob, set()).add(rel)
    return _pointers_from(root, blobs, include_uncached), len(commits)


def _prefix(root: Path) -> str:
    return _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()


def _wanted(rel: str) -> bool:
    return rel.endswith(POINTER_SUFFIX) or rel == _LOCK_NAME


def _pointers_from(root: Path, blobs: dict[str, set[str]], include_uncached: bool) -> list[Pointer]:
    contents = _read_blobs(root, list(blobs))
    found: dict[tuple[str, str], Pointer] = {}
    for blob, paths in blobs.items():
        text = contents.get(blob, b"").decode("utf-8", "replace")
        # a lock's entries do not depend on where it sits: parse each lock blob once
        for path in sorted(paths) if _LOCK_NAME not in paths else [_LOCK_NAME]:
            for pointer in _parse(path, text, include_uncached):
                found[(pointer.path, pointer.oid)] = pointer
    return list(found.values())


def _tracked_files(root: Path, commit: str, prefix: str) -> list[tuple[str, str]]:
    done = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit)
    rows: list[tuple[str, str]] = []
    for record in done.stdout.decode("utf-8", "replace").split("\0"):
        meta, _, name = record.partition("\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != "blob" or not name.startswith(prefix):
            continue
        rel = name[len(prefix) :]
        if _wanted(rel):
            rows.append((parts[2], rel))
    return rows


def _read_blobs(root: Path, blobs: list[str]) -> dict[str, bytes]:
    return cat_objects(root, blobs)


def _parse(path: str, text: str, include_uncached: bool) -> list[Pointer]:
    try:
        if path == _LOCK_NAME:
            from loopline.pipeline._lock import parse_lock  # only when a lock is in history

            entries = parse_lock(text, path)
            return [
                Pointer(path, o.path, o.oid, o.size, o.nfiles, o.isexec)
                for e in entries.values()
                for o in e.outs
                if o.cache or include_uncached
            ]
        return [parse_pointer(path, text)]
    except LooplineError:
        return []
