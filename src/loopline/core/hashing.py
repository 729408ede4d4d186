"""BLAKE3 content hashes: the names of every object Loopline stores."""

from __future__ import annotations

from pathlib import Path

__all__ = ["HASH_NAME", "MULTITHREAD_THRESHOLD", "hash_bytes", "hash_file", "is_hash"]

HASH_NAME = "blake3"
# Below this size, spinning up BLAKE3's worker threads costs more than it saves.
MULTITHREAD_THRESHOLD = 4 * 1024 * 1024
_SMALL_FILE = 1024 * 1024
_HEX = frozenset("0123456789abcdef")


def hash_bytes(data: bytes) -> str:
    from blake3 import blake3

    return str(blake3(data).hexdigest())


def hash_file(path: Path | str, size: int | None = None) -> str:
    """Hash a file's bytes; big files are memory-mapped and hashed on all cores."""
    from blake3 import blake3

    if size is None:
        size = Path(path).stat().st_size
    if size < _SMALL_FILE:
        with open(path, "rb") as handle:
            return str(blake3(handle.read()).hexdigest())
    threads = blake3.AUTO if size >= MULTITHREAD_THRESHOLD else 1
    hasher = blake3(max_threads=threads)
    hasher.update_mmap(str(path))
    return str(hasher.hexdigest())


def is_hash(text: str) -> bool:
    """True for a 64-character lowercase hex digest (a file object's name)."""
    return len(text) == 64 and _HEX.issuperset(text)
