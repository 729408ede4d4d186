"""Walking workspace paths: the stat of every file under a directory, in one pass."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from loopline.core.hashing import hash_bytes

__all__ = ["ScannedFile", "dir_token", "scan_dir"]


@dataclass(frozen=True, slots=True)
class ScannedFile:
    relpath: str
    inode: int
    mtime_ns: int
    size: int
    isexec: bool


def scan_dir(root: Path) -> list[ScannedFile]:
    """Every regular file below ``root`` (symlinks to files followed), sorted by relpath."""
    found: list[ScannedFile] = []
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                    continue
                try:
                    st = entry.stat(follow_symlinks=True)
                except FileNotFoundError:
                    continue  # a dangling symlink is not data
                if stat.S_ISREG(st.st_mode):
                    found.append(
                        ScannedFile(
                            rel, st.st_ino, st.st_mtime_ns, st.st_size, bool(st.st_mode & 0o100)
                        )
                    )
    found.sort(key=lambda f: f.relpath)
    return found


def dir_token(files: list[ScannedFile]) -> str:
    """A fingerprint of every file's identity and stat; equal tokens mean an unchanged tree."""
    text = "\n".join(
        f"{f.relpath}\0{f.inode}\0{f.mtime_ns}\0{f.size}\0{int(f.isexec)}" for f in files
    )
    return hash_bytes(text.encode("utf-8", "surrogateescape"))
