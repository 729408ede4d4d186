"""The run cache: a stage's exact inputs → the outs they produced, so a repeat is a restore.

The key is the BLAKE3 of the rendered command, every dep's content id, the used param values
and the out paths with their flags. Entries live beside the objects
(``.loopline/objects/runs/<2>/<key>.json``) and name only objects, so they cost a few bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from loopline.core.hashing import hash_bytes
from loopline.pipeline._lock import LockedPath
from loopline.pipeline._model import Out

__all__ = ["RunCache", "run_key"]


def run_key(
    cmd: str | list[str],
    deps: Sequence[LockedPath],
    params: dict[str, dict[str, Any]],
    outs: Sequence[Out],
) -> str:
    payload = {
        "cmd": cmd,
        "deps": sorted([d.path, d.oid] for d in deps),
        "params": params,
        "outs": sorted([o.path, o.cache, o.persist] for o in outs),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hash_bytes(text.encode("utf-8"))


class RunCache:
    def __init__(self, objects_dir: Path) -> None:
        self.root = objects_dir / "runs"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[LockedPath] | None:
        try:
            rows = json.loads(self._path(key).read_bytes())
            return [
                LockedPath(
                    r["path"],
                    r["oid"],
                    r["size"],
                    r.get("nfiles"),
                    bool(r.get("isexec")),
                    r.get("cache", True),
                )
                for r in rows
            ]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None  # a memo: an unreadable entry is simply a miss

    def put(self, key: str, outs: Sequence[LockedPath]) -> None:
        from loopline.core.atomic import atomic_write_bytes

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [o.to_dict(with_cache=True) for o in outs]
        atomic_write_bytes(path, json.dumps(rows, separators=(",", ":")).encode("utf-8"))

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for shard in self.root.iterdir():
            for entry in shard.glob("*.json"):
                yield entry.stem

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
