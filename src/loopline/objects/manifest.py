"""Directory manifests: a directory is an object listing its files' paths, hashes, sizes, modes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from loopline.core.errors import IntegrityError
from loopline.core.hashing import hash_bytes, is_hash

__all__ = ["DIR_SUFFIX", "Manifest", "ManifestEntry", "is_dir_oid"]

DIR_SUFFIX = ".dir"


def is_dir_oid(oid: str) -> bool:
    return oid.endswith(DIR_SUFFIX)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    relpath: str
    hash: str
    size: int
    isexec: bool = False


@dataclass(frozen=True)
class Manifest:
    """The sorted entries of one directory; its object id is the hash of its JSON plus ``.dir``."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        return cls(tuple(sorted(entries, key=lambda e: e.relpath)))

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def nfiles(self) -> int:
        return len(self.entries)

    def to_bytes(self) -> bytes:
        rows = []
        for e in self.entries:
            row: dict[str, object] = {"relpath": e.relpath, "hash": e.hash, "size": e.size}
            if e.isexec:
                row["isexec"] = True
            rows.append(row)
        return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @property
    def oid(self) -> str:
        return hash_bytes(self.to_bytes()) + DIR_SUFFIX

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str) -> Manifest:
        try:
            rows = json.loads(data)
            entries = tuple(
                ManifestEntry(
                    relpath=str(r["relpath"]),
                    hash=str(r["hash"]),
                    size=int(r["size"]),
                    isexec=bool(r.get("isexec", False)),
                )
                for r in rows
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise IntegrityError(
                f"directory manifest {source} is corrupt: {exc}",
                hint="fetch it again with `loopline pull`, or re-add the directory",
            ) from None
        for entry in entries:
            _check_entry(entry, source)
        return cls(entries)


def _check_entry(entry: ManifestEntry, source: str) -> None:
    parts = entry.relpath.split("/")
    if not is_hash(entry.hash) or entry.relpath.startswith("/") or ".." in parts or "" in parts:
        raise IntegrityError(
            f"directory manifest {source} has an invalid entry {entry.relpath!r}",
            hint="the manifest was tampered with; fetch it again or re-add the directory",
        )
