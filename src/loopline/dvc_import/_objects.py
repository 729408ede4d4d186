"""DVC's md5 objects turned into Loopline's blake3 objects, read once and verified on the way.

The bytes of an md5 object come from DVC's cache (``files/md5/xx/rest``, or ``xx/rest`` for
DVC 2's legacy hashes) or, failing that, from the workspace file DVC recorded; either way they
are copied into Loopline's cache only if their md5 matches what DVC recorded, so a damaged DVC
cache or an edited workspace file never becomes Loopline's record of the old version.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.objects.manifest import Manifest, ManifestEntry
from loopline.objects.odb import ObjectStore

__all__ = ["Converted", "Md5Objects", "is_executable"]

_CHUNK = 1024 * 1024
_DIR = ".dir"


@dataclass(frozen=True)
class Converted:
    oid: str
    size: int
    nfiles: int | None = None


class Md5Objects:
    """md5 (as DVC recorded it) -> Loopline object, memoised; ``problem`` says why not.

    With a ``memo`` file, conversions are remembered across runs (only verified ones are ever
    recorded), so importing again does not re-read data whose object is already in the cache.
    """

    def __init__(
        self, dvc_cache: Path, odb: ObjectStore, root: Path, memo: Path | None = None
    ) -> None:
        self.dvc_cache = dvc_cache
        self.root = os.path.realpath(root)
        self.odb = odb
        self.memo = memo
        self.problem = ""
        self._files: dict[str, Converted] = {}
        if memo is not None:
            self._files = _load_memo(memo)

    def save(self) -> None:
        if self.memo is None:
            return
        from loopline.core.atomic import atomic_write_text

        rows = {k: [c.oid, c.size] for k, c in self._files.items()}
        self.memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.memo, json.dumps(rows, sort_keys=True))

    def convert(self, md5: str, legacy: bool, workspace: Path | None) -> Converted | None:
        """The Loopline object for a DVC file or directory hash (``....dir``), or None."""
        self.problem = ""
        if md5.endswith(_DIR):
            return self._directory(md5.removesuffix(_DIR), legacy, workspace)
        return self._file(md5, legacy, [workspace] if workspace is not None else [])

    def _cache_path(self, md5: str, legacy: bool, suffix: str = "") -> Path:
        if legacy:
            return self.dvc_cache / md5[:2] / (md5[2:] + suffix)
        return self.dvc_cache / "files" / "md5" / md5[:2] / (md5[2:] + suffix)

    def _file(self, md5: str, legacy: bool, candidates: list[Path]) -> Converted | None:
        key = ("legacy:" if legacy else "") + md5  # a legacy md5 names other bytes
        known = self._files.get(key)
        if known is not None and self.odb.exists(known.oid):
            return known
        damaged = []
        inside = [c for c in candidates if self._inside(c)]  # never read through a link out
        for source in [self._cache_path(md5, legacy), *inside]:
            if not source.is_file():
                continue
            found = self._copy_if_matches(source, md5, legacy)
            if found is not None:
                self._files[key] = found
                return found
            damaged.append(source)
        if damaged:
            self.problem = f"{damaged[0]} does not match the md5 {md5} DVC recorded"
        else:
            self.problem = f"content {md5} is neither in DVC's cache nor in the workspace"
        return None

    def _inside(self, path: Path) -> bool:
        real = os.path.realpath(path)
        return real.startswith(self.root + os.sep)

    def _copy_if_matches(self, source: Path, md5: str, legacy: bool) -> Converted | None:
        from blake3 import blake3

        plain, unix, b3 = hashlib.md5(), hashlib.md5(), blake3()
        tmp = self.odb.new_tmp_path()
        size = 0
        with open(source, "rb") as src, open(tmp, "xb") as dst:
            while chunk := src.read(_CHUNK):
                plain.update(chunk)
                if legacy:  # DVC 2 hashed text with CRLF turned into LF
                    unix.update(chunk.replace(b"\r\n", b"\n"))
                b3.update(chunk)
                dst.write(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if md5 not in (plain.hexdigest(), unix.hexdigest() if legacy else None):
            tmp.unlink()
            return None
        oid = str(b3.hexdigest())
        if self.odb.exists(oid):
            tmp.unlink()
        else:
            tmp.chmod(0o444)
            self.odb.publish([(tmp, oid)])
        return Converted(oid, size)

    def _directory(self, md5: str, legacy: bool, workspace: Path | None) -> Converted | None:
        rows = self._manifest(md5, legacy, workspace)
        if rows is None:
            return None
        entries = []
        for row in rows:
            relpath = row["relpath"]
            inside = [workspace / relpath] if workspace is not None else []
            found = self._file(str(row["md5"]), legacy, inside)
            if found is None:
                self.problem = f"{relpath}: {self.problem}"
                return None
            isexec = bool(row.get("isexec")) or (bool(inside) and is_executable(inside[0]))
            entries.append(ManifestEntry(relpath, found.oid, found.size, isexec))
        manifest = Manifest.from_entries(entries)
        oid = self.odb.add_manifest(manifest)
        return Converted(oid, manifest.size, manifest.nfiles)

    def _manifest(self, md5: str, legacy: bool, workspace: Path | None) -> list[Any] | None:
        """DVC's manifest rows, from its cache or rebuilt from an unchanged workspace folder."""
        path = self._cache_path(md5, legacy, _DIR)
        data = path.read_bytes() if path.is_file() else None
        if (
            data is None
            and workspace is not None
            and workspace.is_dir()
            and self._inside(workspace)
        ):
            data = _rebuild_manifest(workspace)
        if data is None:
            self.problem = f"DVC's listing of folder {md5}{_DIR} is not in its cache"
            return None
        if hashlib.md5(data).hexdigest() != md5:
            self.problem = (
                f"the folder differs from what DVC recorded ({md5}{_DIR}) and DVC's cache "
                "does not hold the recorded listing"
            )
            return None
        rows = json.loads(data)
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("relpath"), str) and "md5" in r for r in rows
        ):
            self.problem = f"DVC's listing {path} is not a list of files"
            return None
        for row in rows:
            parts = row["relpath"].split("/")
            if row["relpath"].startswith("/") or ".." in parts:
                self.problem = f"DVC's listing {path} names {row['relpath']!r}, outside the folder"
                return None
        return rows


def is_executable(path: Path) -> bool:
    """DVC's listings do not record the executable bit (Loopline's do): take it from the
    workspace file, which is what Loopline's own hashing of the folder will see."""
    try:
        return bool(os.stat(path).st_mode & 0o100) and path.is_file()
    except OSError:
        return False


def _load_memo(path: Path) -> dict[str, Converted]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(rows, dict):
        return {}
    found = {}
    for key, row in rows.items():
        if isinstance(row, list) and len(row) == 2 and isinstance(row[1], int):
            found[str(key)] = Converted(str(row[0]), row[1])
    return found


def _rebuild_manifest(folder: Path) -> bytes:
    """The bytes DVC would store as this folder's manifest (sorted, DVC's JSON spacing)."""
    rows: list[dict[str, str]] = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            digest = hashlib.md5()
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            rows.append({"md5": digest.hexdigest(), "relpath": path.relative_to(folder).as_posix()})
    rows.sort(key=lambda r: r["relpath"])
    return json.dumps(rows, sort_keys=True).encode()
