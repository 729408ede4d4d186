"""The state cache: (inode, mtime_ns, size) → hash, so unchanged files are never re-hashed.

Directories get a second, cheaper memo: a token over every file's stat. When the token matches,
the directory's hash is known after one walk and one lookup, without a per-file query. A third
memo holds the stat each cache object had when it was stored or last verified, so a cache
object modified since is noticed (and re-hashed) before it is used. The cache is a memo only: a
corrupt or missing database is rebuilt, never trusted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["DirState", "FileState", "StateCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, hash TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS object_stats (
    oid TEXT PRIMARY KEY, inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, size INTEGER NOT NULL
) WITHOUT ROWID;
DROP TABLE IF EXISTS objects;
CREATE TABLE IF NOT EXISTS dirs (
    path TEXT PRIMARY KEY, token TEXT NOT NULL, oid TEXT NOT NULL,
    size INTEGER NOT NULL, nfiles INTEGER NOT NULL
) WITHOUT ROWID;
"""


_QUERY_CHUNK = 900  # below SQLite's limit on bound parameters


@dataclass(frozen=True, slots=True)
class FileState:
    inode: int
    mtime_ns: int
    size: int
    hash: str


@dataclass(frozen=True, slots=True)
class DirState:
    token: str
    oid: str
    size: int
    nfiles: int


class StateCache:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._open()
        except sqlite3.DatabaseError:
            # A damaged memo is worthless, not precious: start a new one.
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.db_path) + suffix).unlink(missing_ok=True)
            return self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StateCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files --------------------------------------------------------------------------
    def file(self, path: str) -> FileState | None:
        row = self._conn.execute(
            "SELECT inode, mtime_ns, size, hash FROM files WHERE path = ?", (path,)
        ).fetchone()
        return FileState(*row) if row else None

    def files_under(self, folder: str) -> dict[str, FileState]:
        """Every remembered file inside ``folder``, keyed by path relative to it."""
        prefix = folder + "/"
        rows = self._conn.execute(
            "SELECT path, inode, mtime_ns, size, hash FROM files WHERE path >= ? AND path < ?",
            (prefix, folder + "0"),  # '0' sorts right after '/'
        )
        cut = len(prefix)
        return {path[cut:]: FileState(i, m, s, h) for path, i, m, s, h in rows}

    def put_files(self, rows: Iterable[tuple[str, FileState]]) -> None:
        data = [(p, s.inode, s.mtime_ns, s.size, s.hash) for p, s in rows]
        if not data:
            return
        with self._transaction():
            self._conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", data)

    def forget(self, path: str) -> None:
        """Drop every memo about ``path`` and what is below it: it is hashed afresh next time."""
        below = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        with self._transaction():
            for table in ("files", "dirs"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                    (path, below),
                )

    def forget_hash(self, oid: str) -> None:
        """Drop every memo that names ``oid`` (a damaged object): files and folders said to
        hold it are hashed afresh, never trusted to be it."""
        paths = [r[0] for r in self._conn.execute("SELECT path FROM files WHERE hash = ?", (oid,))]
        folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
        with self._transaction():
            self._conn.execute("DELETE FROM files WHERE hash = ?", (oid,))
            self._conn.execute("DELETE FROM dirs WHERE oid = ?", (oid,))
            self._conn.executemany("DELETE FROM dirs WHERE path = ?", [(f,) for f in folders])
            self._conn.execute("DELETE FROM object_stats WHERE oid = ?", (oid,))

    # -- cache objects ------------------------------------------------------------------
    def objects(self, oids: Iterable[str]) -> dict[str, tuple[int, int, int, int]]:
        """The (inode, mtime_ns, ctime_ns, size) each object had when stored or last verified.

        ``ctime_ns`` is there because ``touch -r`` can put an edited file's mtime back, but no
        user command can reset its change time."""
        wanted = list(oids)
        found: dict[str, tuple[int, int, int, int]] = {}
        for start in range(0, len(wanted), _QUERY_CHUNK):
            chunk = wanted[start : start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT oid, inode, mtime_ns, ctime_ns, size FROM object_stats "
                f"WHERE oid IN ({marks})",
                chunk,
            )
            found.update((oid, (i, m, c, s)) for oid, i, m, c, s in rows)
        return found

    def put_objects(self, rows: Iterable[tuple[str, tuple[int, int, int, int]]]) -> None:
        data = [(oid, *stat) for oid, stat in rows]
        if not data:
            return
        with self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO object_stats VALUES (?, ?, ?, ?, ?)", data
            )

    # -- directories --------------------------------------------------------------------
    def dir(self, path: str) -> DirState | None:
        row = self._conn.execute(
            "SELECT token, oid, size, nfiles FROM dirs WHERE path = ?", (path,)
        ).fetchone()
        return DirState(*row) if row else None

    def put_dir(self, path: str, state: DirState) -> None:
        with self._transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?, ?, ?)",
                (path, state.token, state.oid, state.size, state.nfiles),
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
