"""Building DVC repositories file by file, in the exact bytes DVC 3.67 writes.

Checked against repositories made by the real ``dvc`` CLI (``dvc add``, ``dvc repro``,
``dvc remote add``): the same ``.dvc`` files, ``dvc.lock``, cache layout and directory
listings. Tests build them by hand so they need no DVC installation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class DvcRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / ".dvc" / "cache"
        (root / ".dvc").mkdir(parents=True, exist_ok=True)
        (root / ".dvc" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")
        (root / ".dvc" / "config").write_text("")

    def cache_object(self, data: bytes, suffix: str = "", *, legacy: bool = False) -> str:
        digest = md5(data)
        base = self.cache if legacy else self.cache / "files" / "md5"
        path = base / digest[:2] / (digest[2:] + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return digest + suffix

    def entry_for(self, rel: str, *, cache: bool = True) -> dict[str, object]:
        """The hash fields DVC records for the workspace path ``rel`` (cached unless told)."""
        path = self.root / rel
        if path.is_file():
            data = path.read_bytes()
            oid = self.cache_object(data) if cache else md5(data)
            return {"md5": oid, "size": len(data), "hash": "md5"}
        files = sorted(p for p in path.rglob("*") if p.is_file())
        rows = [
            {"md5": md5(p.read_bytes()), "relpath": p.relative_to(path).as_posix()} for p in files
        ]
        for p in files:
            if cache:
                self.cache_object(p.read_bytes())
        listing = json.dumps(rows, sort_keys=True).encode()
        oid = self.cache_object(listing, ".dir") if cache else md5(listing) + ".dir"
        size = sum(p.stat().st_size for p in files)
        return {"md5": oid, "size": size, "nfiles": len(files), "hash": "md5"}

    def add(self, rel: str) -> None:
        """What ``dvc add rel`` leaves: the cache objects, ``rel.dvc`` and a .gitignore line."""
        path = Path(rel)
        out = {**self.entry_for(rel), "path": path.name}
        (self.root / (rel + ".dvc")).write_text(yaml.safe_dump({"outs": [out]}, sort_keys=False))
        gitignore = self.root / path.parent / ".gitignore"
        text = gitignore.read_text() if gitignore.exists() else ""
        gitignore.write_text(text + f"/{path.name}\n")

    def lock(self, stages: dict[str, dict[str, Any]]) -> None:
        """``dvc.lock`` for ``stages``: name -> {cmd, deps: [paths], params, outs: [paths],
        uncached: [outs with cache: false]}."""
        written: dict[str, Any] = {}
        for name, stage in stages.items():
            entry: dict[str, Any] = {"cmd": stage["cmd"]}
            for key in ("deps", "outs"):
                rows = []
                for rel in stage.get(key, []):
                    cached = key == "outs" and rel not in stage.get("uncached", [])
                    fields = self.entry_for(rel, cache=cached)
                    rows.append({"path": rel, "hash": "md5", **fields})
                if rows:
                    entry[key] = rows
            if "params" in stage:
                entry["params"] = stage["params"]
            written[name] = entry
        doc = {"schema": "2.0", "stages": written}
        (self.root / "dvc.lock").write_text(yaml.safe_dump(doc, sort_keys=False))

    def snapshot(self) -> dict[str, bytes]:
        """Every DVC-owned file and its bytes, to prove import never changes them."""
        found = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            owned = (
                rel.startswith(".dvc/") or rel.endswith(".dvc") or rel in ("dvc.yaml", "dvc.lock")
            )
            if owned and path.is_file():
                found[rel] = path.read_bytes()
        return found
