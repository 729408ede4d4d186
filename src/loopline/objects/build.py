"""Turning a workspace path into an object description, re-hashing only what changed."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from loopline.core.errors import NotFound
from loopline.core.hashing import hash_bytes, hash_file
from loopline.core.project import DOT_DIR
from loopline.objects.bounds import Boundary
from loopline.objects.manifest import Manifest, ManifestEntry
from loopline.objects.odb import ObjectStore, PendingObject
from loopline.objects.scan import ScannedFile, dir_token, scan_dir
from loopline.objects.state import DirState, FileState, StateCache

__all__ = ["BuiltObject", "build_object"]

_PARALLEL_HASH_MIN = 64
_STAGE_WHILE_HASHING = 1024 * 1024


@dataclass(frozen=True)
class BuiltObject:
    """What a workspace path hashes to now."""

    oid: str
    size: int
    nfiles: int | None  # None for a single file
    isexec: bool = False
    manifest: Manifest | None = None
    files: list[PendingObject] = field(default_factory=list)  # filled when ``with_files``


def build_object(
    root: Path,
    relpath: str,
    state: StateCache,
    *,
    odb: ObjectStore | None = None,
    with_files: bool = False,
    jobs: int = 4,
    on_hashed: Callable[[int], None] | None = None,
    stage: Callable[[bytes, str], None] | None = None,
) -> BuiltObject:
    """Hash ``root/relpath`` (a file or a directory) using and refreshing the state cache.

    ``with_files`` also returns the files to store and the manifest (what ``add`` needs);
    without it a directory whose stat token is unchanged costs one walk and one lookup.
    With ``with_files``, symlinks leading out of the project are refused (nothing outside
    is stored). ``stage(data, oid)`` receives the bytes of each small file hashed along the way, so
    ``add`` stores it without reading it a second time.
    """
    path = root / relpath
    # What will be stored must come from inside the project (see ``bounds``); hashing alone
    # (status, a stage's dependencies) may follow a link anywhere.
    boundary = Boundary(root, root / DOT_DIR) if with_files else None
    if boundary is not None and os.path.lexists(path):
        boundary.check_read(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFound(
            f"{relpath} does not exist", hint="check the path, or `loopline checkout` it"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        return _build_dir(path, relpath, state, odb, with_files, jobs, on_hashed, stage, boundary)
    if not stat.S_ISREG(st.st_mode):
        raise NotFound(f"{relpath} is neither a regular file nor a directory")
    return _build_file(path, relpath, st, state, with_files)


def _build_file(
    path: Path, relpath: str, st: os.stat_result, state: StateCache, with_files: bool
) -> BuiltObject:
    known = state.file(relpath)
    if known and (known.inode, known.mtime_ns, known.size) == (
        st.st_ino,
        st.st_mtime_ns,
        st.st_size,
    ):
        digest = known.hash
    else:
        digest = hash_file(path, st.st_size)
        state.put_files([(relpath, FileState(st.st_ino, st.st_mtime_ns, st.st_size, digest))])
    files = [PendingObject(path, digest, st.st_size, st.st_mtime_ns)] if with_files else []
    return BuiltObject(digest, st.st_size, None, bool(st.st_mode & 0o100), None, files)


def _build_dir(
    path: Path,
    relpath: str,
    state: StateCache,
    odb: ObjectStore | None,
    with_files: bool,
    jobs: int,
    on_hashed: Callable[[int], None] | None,
    stage: Callable[[bytes, str], None] | None,
    boundary: Boundary | None,
) -> BuiltObject:
    scanned = scan_dir(path, boundary)
    token = dir_token(scanned)
    known = state.dir(relpath)
    if known is not None and known.token == token:
        if not with_files:
            return BuiltObject(known.oid, known.size, known.nfiles)
        if odb is not None and odb.exists(known.oid):
            manifest = odb.read_manifest(known.oid)
            return _with_files(path, known.oid, manifest, scanned)
    hashes = _hash_changed(path, relpath, scanned, state, jobs, on_hashed, stage)
    manifest = Manifest.from_entries(
        ManifestEntry(f.relpath, hashes[f.relpath], f.size, f.isexec) for f in scanned
    )
    oid = manifest.oid
    state.put_dir(relpath, DirState(token, oid, manifest.size, manifest.nfiles))
    if not with_files:
        return BuiltObject(oid, manifest.size, manifest.nfiles)
    return _with_files(path, oid, manifest, scanned)


def _with_files(
    path: Path, oid: str, manifest: Manifest, scanned: list[ScannedFile]
) -> BuiltObject:
    files = [
        PendingObject(path / f.relpath, e.hash, f.size, f.mtime_ns)
        for f, e in zip(scanned, manifest.entries, strict=True)
    ]
    return BuiltObject(oid, manifest.size, manifest.nfiles, False, manifest, files)


def _hash_changed(
    path: Path,
    relpath: str,
    scanned: list[ScannedFile],
    state: StateCache,
    jobs: int,
    on_hashed: Callable[[int], None] | None,
    stage: Callable[[bytes, str], None] | None,
) -> dict[str, str]:
    remembered = state.files_under(relpath)
    hashes: dict[str, str] = {}
    stale: list[ScannedFile] = []
    for f in scanned:
        known = remembered.get(f.relpath)
        if known and (known.inode, known.mtime_ns, known.size) == (f.inode, f.mtime_ns, f.size):
            hashes[f.relpath] = known.hash
        else:
            stale.append(f)

    def work(f: ScannedFile) -> str:
        if stage is not None and f.size < _STAGE_WHILE_HASHING:
            with open(path / f.relpath, "rb") as handle:
                data = handle.read()
            digest = hash_bytes(data)
            stage(data, digest)
        else:
            digest = hash_file(path / f.relpath, f.size)
        if on_hashed is not None:
            on_hashed(f.size)
        return digest

    if len(stale) >= _PARALLEL_HASH_MIN and jobs > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            digests = list(pool.map(work, stale, chunksize=32))
    else:
        digests = [work(f) for f in stale]
    for f, digest in zip(stale, digests, strict=True):
        hashes[f.relpath] = digest
    state.put_files(
        (f"{relpath}/{f.relpath}", FileState(f.inode, f.mtime_ns, f.size, d))
        for f, d in zip(stale, digests, strict=True)
    )
    return hashes
