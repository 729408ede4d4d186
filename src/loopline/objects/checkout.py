"""Materialising an object at a workspace path, touching only what differs."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from loopline.core.atomic import temp_path_for
from loopline.core.errors import NotFound
from loopline.core.project import DOT_DIR
from loopline.objects.bounds import Boundary
from loopline.objects.links import place_object
from loopline.objects.manifest import Manifest, ManifestEntry, is_dir_oid
from loopline.objects.odb import ObjectStore
from loopline.objects.scan import ScannedFile, dir_token, scan_dir
from loopline.objects.state import DirState, FileState, StateCache

__all__ = ["CheckoutStats", "materialize"]


@dataclass(frozen=True)
class CheckoutStats:
    written: int
    deleted: int
    unchanged: int


def materialize(
    root: Path,
    relpath: str,
    oid: str,
    odb: ObjectStore,
    state: StateCache,
    *,
    link_types: tuple[str, ...],
    isexec: bool = False,
    verify: bool = False,
    jobs: int = 8,
    on_done: Callable[[int], None] | None = None,
    scratch: Path | None = None,
    relink: bool = False,
) -> CheckoutStats:
    """Make ``root/relpath`` hold object ``oid``; the caller has checked nothing unsaved is lost.

    ``relink`` rewrites every file even if its content is right (to switch link type).
    ``scratch`` is a folder for temporary names (emptied by the caller between runs); it is
    used when it is on the same filesystem as the destination, so renames stay atomic.
    Nothing is written through a symlink (``dest``, a parent or a subfolder of it) that
    leads outside the project.
    """
    dest = root / relpath
    boundary = Boundary(root, root / DOT_DIR)
    boundary.check_write(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = scratch if scratch is not None and _same_device(scratch, dest.parent) else None
    if is_dir_oid(oid):
        manifest = odb.read_manifest(oid)
        return _materialize_dir(
            dest,
            relpath,
            oid,
            manifest,
            odb,
            state,
            link_types,
            verify,
            jobs,
            on_done,
            temp_dir,
            relink,
            boundary,
        )
    _require(odb, [(oid, relpath)], relpath, verify)
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    st = place_object(odb.path(oid), dest, link_types, executable=isexec, temp_dir=temp_dir)
    if "hardlink" in link_types:
        odb.relinked([oid])  # a new link changed the object's ctime, not its bytes
    state.put_files([(relpath, FileState(st.st_ino, st.st_mtime_ns, st.st_size, oid))])
    if on_done is not None:
        on_done(st.st_size)
    return CheckoutStats(1, 0, 0)


def _require(odb: ObjectStore, wanted: list[tuple[str, str]], what: str, verify: bool) -> None:
    """Every ``(oid, relpath)`` must be in the cache and intact (re-hashed if its stat changed
    since it was stored, or always with ``verify``): a damaged object is never checked out."""
    for oid, relpath in wanted:
        if not odb.exists(oid):
            raise NotFound(
                f"the content of {relpath} (object {oid}) is not in the local cache",
                hint="fetch it with `loopline pull`",
            )
    odb.require_intact([oid for oid, _ in wanted], what, verify=verify)


def _materialize_dir(
    dest: Path,
    relpath: str,
    oid: str,
    manifest: Manifest,
    odb: ObjectStore,
    state: StateCache,
    link_types: tuple[str, ...],
    verify: bool,
    jobs: int,
    on_done: Callable[[int], None] | None,
    temp_dir: Path | None,
    relink: bool,
    boundary: Boundary,
) -> CheckoutStats:
    if os.path.lexists(dest) and (not dest.is_dir() or dest.is_symlink()):
        # A file, or a link (to a file, a folder or nothing): the link goes, not its target.
        dest.unlink()
    # A link to a folder below ``dest`` is replaced by a real folder, as a file link is by a
    # real file: writing through it would change the folder it leads to, and checkout would
    # never converge. Its target is left as it was (checkout has refused unsaved changes).
    _unlink_folder_links(dest, boundary)
    current = _current_hashes(dest, relpath, state)
    wanted = {e.relpath for e in manifest.entries}
    to_write = [
        e
        for e in manifest.entries
        if relink or current.get(e.relpath, (None,))[0] != (e.hash, e.isexec)
    ]
    _require(odb, [(e.hash, f"{relpath}/{e.relpath}") for e in to_write], relpath, verify)
    fresh = not dest.exists()
    if not fresh:
        for folder in sorted({os.path.dirname(e.relpath) for e in to_write} - {""}):
            boundary.check_write(dest / folder)
    # A folder that does not exist yet is built under a temporary name and renamed into place
    # in one step: no per-file temporary names, and never a half-built folder at ``dest``.
    if not fresh:
        target = dest
    elif temp_dir is not None:
        target = temp_dir / os.urandom(16).hex()
    else:
        target = temp_path_for(dest)
    deleted = 0 if fresh else _delete_extra(dest, [p for p in current if p not in wanted])
    target.mkdir(parents=True, exist_ok=True)
    for folder in sorted({os.path.dirname(e.relpath) for e in to_write} - {""}):
        (target / folder).mkdir(parents=True, exist_ok=True)

    def write(entry: ManifestEntry) -> ScannedFile:
        st = place_object(
            odb.path(entry.hash),
            target / entry.relpath,
            link_types,
            executable=entry.isexec,
            replace=not fresh,
            temp_dir=temp_dir,
        )
        if on_done is not None:
            on_done(entry.size)
        return ScannedFile(entry.relpath, st.st_ino, st.st_mtime_ns, st.st_size, entry.isexec)

    try:
        written = _run(write, to_write, jobs)
    except BaseException:
        if fresh:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if fresh:
        os.rename(target, dest)
    if "hardlink" in link_types:
        odb.relinked(e.hash for e in to_write)  # new links changed ctimes, not bytes
    _remember(relpath, oid, manifest, current, written, state)
    return CheckoutStats(len(written), deleted, len(manifest.entries) - len(written))


def _unlink_folder_links(dest: Path, boundary: Boundary) -> None:
    """Replace links to folders inside the project; refuse (touching nothing) those that
    lead outside it or to a place that is never data."""
    if not dest.is_dir():
        return
    links: list[str] = []
    for folder, dirs, _files in os.walk(dest):
        for name in list(dirs):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                boundary.check_write(Path(path))
                links.append(path)
                dirs.remove(name)
    for path in links:
        os.unlink(path)


def _run(
    write: Callable[[ManifestEntry], ScannedFile], entries: list[ManifestEntry], jobs: int
) -> list[ScannedFile]:
    if len(entries) <= 16 or jobs <= 1:
        return [write(e) for e in entries]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(write, entries, chunksize=64))


def _current_hashes(
    dest: Path, relpath: str, state: StateCache
) -> dict[str, tuple[tuple[str, bool] | None, ScannedFile]]:
    """Workspace files with their remembered (hash, isexec), or None when unknown."""
    if not dest.is_dir():
        return {}
    remembered = state.files_under(relpath)
    result: dict[str, tuple[tuple[str, bool] | None, ScannedFile]] = {}
    for f in scan_dir(dest):
        known = remembered.get(f.relpath)
        same = known is not None and (known.inode, known.mtime_ns, known.size) == (
            f.inode,
            f.mtime_ns,
            f.size,
        )
        result[f.relpath] = ((known.hash, f.isexec) if same and known else None, f)
    return result


def _delete_extra(dest: Path, extra: list[str]) -> int:
    parents: set[Path] = set()
    for rel in extra:
        (dest / rel).unlink(missing_ok=True)
        parents.update((dest / rel).parents)
    for folder in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        if folder != dest and dest in folder.parents:
            with contextlib.suppress(OSError):  # not empty: it still holds wanted files
                folder.rmdir()
    return len(extra)


def _remember(
    relpath: str,
    oid: str,
    manifest: Manifest,
    current: dict[str, tuple[tuple[str, bool] | None, ScannedFile]],
    written: list[ScannedFile],
    state: StateCache,
) -> None:
    by_path = {f.relpath: f for f in written}
    files: list[ScannedFile] = []
    for entry in manifest.entries:
        found = by_path.get(entry.relpath)
        files.append(found if found is not None else current[entry.relpath][1])
    hashes = {e.relpath: e.hash for e in manifest.entries}
    state.put_files(
        (f"{relpath}/{f.relpath}", FileState(f.inode, f.mtime_ns, f.size, hashes[f.relpath]))
        for f in written
    )
    state.put_dir(relpath, DirState(dir_token(files), oid, manifest.size, manifest.nfiles))


def _same_device(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except FileNotFoundError:
        return False
