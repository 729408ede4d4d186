"""The local content-addressed object store (the cache).

Layout: ``objects/<first 2 hex>/<remaining 62 hex>`` for files and the same plus ``.dir`` for
directory manifests. Objects are read-only and immutable. New objects are first written under
``objects/tmp/``, made durable with one ``syncfs`` for the whole batch, then renamed into place:
after a crash an object is either complete or absent, and rerunning the command completes it.

Objects are read-only, but a user (or a faulty disk) can still change one. The stat of every
object is recorded when it is stored or verified (in the state cache, the ``ledger``); before an
object is used (checked out, pushed), one ``stat`` compares it, and an object whose stat differs
is re-hashed. One whose bytes no longer match its id is moved to ``objects/quarantine/`` and
never used.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loopline.core.errors import IntegrityError, NotFound
from loopline.core.hashing import hash_bytes, hash_file, is_hash
from loopline.objects.manifest import DIR_SUFFIX, Manifest, is_dir_oid

if TYPE_CHECKING:
    from loopline.objects.state import StateCache

__all__ = ["ObjectStore", "PendingObject", "syncfs"]

# inode, mtime_ns, ctime_ns, size: `touch -r` can restore an mtime, never a ctime
_Stat = tuple[int, int, int, int]

_NEW_OBJECT = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_STALE_TMP_SECONDS = 5 * 60  # a temporary file of a process that is gone
_ABANDONED_TMP_SECONDS = 24 * 3600  # any temporary file, whoever made it


@dataclass(frozen=True, slots=True)
class PendingObject:
    """A workspace file to store under ``oid``, with the stat it had when it was hashed."""

    source: Path
    oid: str
    size: int
    mtime_ns: int


class ObjectStore:
    def __init__(self, root: Path, ledger: StateCache | None = None) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.quarantine_dir = root / "quarantine"
        self.ledger = ledger
        self._made: set[Path] = set()
        self._known: dict[str, _Stat] = {}  # stats recorded by this process
        self._checked: set[str] = set()  # found intact by this process

    # -- naming -------------------------------------------------------------------------
    def path(self, oid: str) -> Path:
        return self.root / oid[:2] / oid[2:]

    def exists(self, oid: str) -> bool:
        return os.path.exists(self.path(oid))

    def oids(self) -> Iterator[str]:
        """Every object id in the store (temporary files excluded)."""
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as shards:
            for shard in shards:
                if len(shard.name) != 2 or not shard.is_dir():
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        oid = shard.name + entry.name
                        if is_hash(oid.removesuffix(DIR_SUFFIX)):
                            yield oid

    # -- writing ------------------------------------------------------------------------
    def add_bytes(self, data: bytes, oid: str) -> None:
        if self.exists(oid):
            return
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._new_tmp()
        fd = os.open(tmp, _NEW_OBJECT, 0o444)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.publish([(tmp, oid)])

    def add_manifest(self, manifest: Manifest) -> str:
        oid = manifest.oid
        self.add_bytes(manifest.to_bytes(), oid)
        return oid

    def import_files(self, downloaded: list[tuple[Path, str]]) -> None:
        """Verify downloaded files against their ids and move them into the store together.

        A file whose bytes do not match its id is deleted and reported; the others are kept.
        """
        bad = self.import_verified(downloaded)
        if bad:
            raise arrived_corrupted(bad)

    def import_verified(self, downloaded: list[tuple[Path, str]]) -> list[str]:
        """:meth:`import_files` without raising: the ids that arrived damaged (not stored)."""
        good: list[tuple[Path, str]] = []
        bad: list[str] = []
        for tmp, oid in downloaded:
            actual = hash_file(tmp) + (DIR_SUFFIX if is_dir_oid(oid) else "")
            if actual == oid:
                tmp.chmod(0o444)
                good.append((tmp, oid))
            else:
                tmp.unlink(missing_ok=True)
                bad.append(oid)
        if good:
            syncfs(self.tmp_dir)
            self.publish(good)
        return bad

    def new_tmp_path(self, oid: str | None = None) -> Path:
        """A fresh temporary name; given the object id, in a per-shard folder, so that threads
        staging many objects at once do not all queue on one directory's lock."""
        folder = self.tmp_dir if oid is None else self.tmp_dir / oid[:2]
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        return folder / f"{os.getpid()}-{os.urandom(16).hex()}"

    def _new_tmp(self) -> Path:
        return self.tmp_dir / f"{os.getpid()}-{os.urandom(16).hex()}"

    def publish(self, staged: list[tuple[Path, str]]) -> None:
        made: set[str] = set()
        for tmp, oid in staged:
            shard = oid[:2]
            if shard not in made:
                (self.root / shard).mkdir(parents=True, exist_ok=True)
                made.add(shard)
            os.replace(tmp, self.path(oid))
        for shard in made:
            _fsync_dir(self.root / shard)
        self._remember([(oid, _stat_of(self.path(oid))) for _tmp, oid in staged])

    def _remember(self, rows: list[tuple[str, _Stat]]) -> None:
        self._known.update(rows)
        if self.ledger is not None:
            self.ledger.put_objects(rows)

    # -- integrity ----------------------------------------------------------------------
    def find_corrupt(
        self, oids: Iterable[str], *, verify: bool = False, quarantine: bool = True
    ) -> list[str]:
        """The objects among ``oids`` whose bytes no longer match their id (absent ones are
        skipped). Only objects whose stat changed since they were stored or last verified are
        re-hashed, unless ``verify``. With ``quarantine`` a corrupt object is moved out of the
        cache (to ``quarantine/``), so nothing uses it and ``pull`` can fetch a good copy."""
        wanted = list(dict.fromkeys(oids))
        known = dict(self.ledger.objects(wanted)) if self.ledger is not None else {}
        if self._known:
            known.update((o, self._known[o]) for o in wanted if o in self._known)
        good: list[tuple[str, _Stat]] = []
        corrupt: list[str] = []
        root = str(self.root)
        for oid in wanted:
            path = f"{root}/{oid[:2]}/{oid[2:]}"  # a str: this loop runs once per file
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            now = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            if not verify and known.get(oid) == now:
                self._checked.add(oid)
                continue
            if _content_id(Path(path), oid) == oid:
                good.append((oid, now))
                continue
            corrupt.append(oid)
            if quarantine:
                self._quarantine(oid)
        self._remember(good)
        return corrupt

    def relinked(self, oids: Iterable[str]) -> None:
        """Record the new stat of objects this process found intact and then hardlinked into
        the workspace: a new link changes an object's ctime, and its bytes were checked just
        before. Only the ctime may differ from the record; anything else is left to be
        re-hashed when next used."""
        wanted = [o for o in dict.fromkeys(oids) if o in self._checked or o in self._known]
        if not wanted:
            return
        known = dict(self.ledger.objects(wanted)) if self.ledger is not None else {}
        known.update((o, self._known[o]) for o in wanted if o in self._known)
        rows: list[tuple[str, _Stat]] = []
        for oid in wanted:
            with contextlib.suppress(FileNotFoundError):
                now = _stat_of(self.path(oid))
                was = known.get(oid)
                if was is not None and (was[0], was[1], was[3]) == (now[0], now[1], now[3]):
                    rows.append((oid, now))
        self._remember(rows)

    def _quarantine(self, oid: str) -> None:
        self._known.pop(oid, None)
        self._checked.discard(oid)
        if self.ledger is not None:
            self.ledger.forget_hash(oid)  # workspace files checked out from it are suspect
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path(oid), self.quarantine_dir / f"{oid}.{time.time_ns()}")

    def require_intact(self, oids: Iterable[str], what: str, *, verify: bool = False) -> None:
        """Raise :class:`IntegrityError` if any of ``oids`` was damaged (after quarantining
        every damaged one); ``what`` names the data they belong to."""
        corrupt = self.find_corrupt(oids, verify=verify)
        if corrupt:
            if len(corrupt) == 1:
                named = "" if corrupt[0] in what else f" (object {corrupt[0]})"
                damaged, it, its = f"the cached copy of {what}{named} is corrupt", "it", "its"
            else:
                damaged = f"{len(corrupt)} cached objects of {what} are corrupt (e.g. {corrupt[0]})"
                it, its = "they", "their"
            raise IntegrityError(
                f"{damaged}: {it} changed after being stored ({its} bytes no longer match "
                f"{its} id); moved to {self.quarantine_dir}, nothing was written from {it}",
                hint="fetch an intact copy with `loopline pull`, or `loopline add` the data "
                "again from an intact copy",
            )

    # -- reading ------------------------------------------------------------------------
    def read_manifest(self, oid: str) -> Manifest:
        path = self.path(oid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"directory manifest {oid} is not in the local cache",
                hint="fetch it with `loopline pull`",
            ) from None
        if hash_bytes(data) + DIR_SUFFIX != oid:
            self._quarantine(oid)  # as a damaged file object: never used, pull replaces it
            raise IntegrityError(
                f"the cached listing of a folder (object {oid}) is corrupt: its bytes no "
                f"longer match its id; it was moved to {self.quarantine_dir}",
                hint="fetch an intact copy with `loopline pull`, or `loopline add` the folder "
                "again",
            )
        return Manifest.from_bytes(data, source=oid)

    def verify(self, oid: str, what: str | None = None) -> None:
        """Re-hash an object; a damaged one is quarantined and :class:`IntegrityError` raised.
        ``what`` names the data it holds (a path), for the message."""
        shown = what if what is not None else f"object {oid}"
        if not self.path(oid).exists():
            raise NotFound(
                f"the content of {shown} (object {oid}) is not in the local cache",
                hint="run `loopline pull`",
            )
        self.require_intact([oid], shown, verify=True)

    # -- deleting -----------------------------------------------------------------------
    def remove(self, oid: str) -> int:
        path = self.path(oid)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def remove_stale_tmp(self, older_than: float = _STALE_TMP_SECONDS) -> int:
        """Delete leftovers of interrupted writes; returns how many were removed.

        Temporary names start with the writing process's id: a file older than
        ``older_than`` whose process is gone (killed mid-``add``) is removed; one whose
        process still runs is kept unless it is a day old.
        """
        if not self.tmp_dir.is_dir():
            return 0
        now = time.time()
        removed = 0
        for folder, _dirs, files in os.walk(self.tmp_dir):
            for name in files:
                path = os.path.join(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    age = now - os.stat(path).st_mtime
                    live = _writer_alive(name)
                    if (age > older_than and not live) or age > _ABANDONED_TMP_SECONDS:
                        os.unlink(path)
                        removed += 1
        return removed


def _writer_alive(name: str) -> bool:
    """Whether the process whose id starts the temporary name ``name`` still runs."""
    pid_text = name.split("-", 1)[0]
    if not pid_text.isdigit() or "-" not in name:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def arrived_corrupted(bad: list[str], done: str = "") -> IntegrityError:
    """The error for objects that arrived from a remote with bytes not matching their ids."""
    return IntegrityError(
        f"{len(bad)} object(s) arrived corrupted from the remote, e.g. {bad[0]}; "
        f"they were not stored{done}",
        hint="the remote's copies are damaged: on a machine whose cache holds them "
        "intact, run `loopline push --verify` (to the folder or S3 store behind an "
        "HTTP remote), which re-checks the remote's copies and replaces damaged ones",
    )


def _stat_of(path: Path) -> _Stat:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def _content_id(path: Path, oid: str) -> str:
    return hash_file(path) + (DIR_SUFFIX if is_dir_oid(oid) else "")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc: ctypes.CDLL | None = None


def syncfs(directory: Path) -> None:
    """Flush every dirty page of the filesystem holding ``directory`` in one call.

    One ``syncfs`` costs far less than an ``fsync`` per small object (20,000 fsyncs take
    several seconds here).
    """
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        if _libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
