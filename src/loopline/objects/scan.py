"""Walking workspace paths: the stat of every file under a directory, in one pass."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from loopline.core.hashing import hash_bytes

if TYPE_CHECKING:
    from loopline.objects.bounds import Boundary

__all__ = ["ScannedFile", "dir_token", "scan_dir"]


class ScannedFile(NamedTuple):
    relpath: str
    inode: int
    mtime_ns: int
    size: int
    isexec: bool


def scan_dir(root: Path, boundary: Boundary | None = None) -> list[ScannedFile]:
    """Every regular file below ``root`` (symlinks to files followed), sorted by relpath.

    With a ``boundary``, a symlink whose target lies outside it is refused rather than read.
    A symlink to a folder is followed (the same with or without a boundary, so ``status``
    hashes what ``add`` stored) unless it loops back to a folder holding it: such a link is
    refused with a boundary and skipped without one.
    This is the hot loop of a no-op ``status``: one ``stat`` per file and as little Python
    per entry as possible.
    """
    found: list[ScannedFile] = []
    append = found.append
    is_reg = stat.S_ISREG
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, prefix + entry.name + "/"))
                    continue
                if entry.is_symlink() and entry.is_dir():
                    if _follow_folder_link(Path(entry.path), boundary):
                        stack.append((entry.path, prefix + entry.name + "/"))
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # a dangling symlink is not data
                if is_reg(st.st_mode):
                    if boundary is not None and entry.is_symlink():
                        boundary.check_read(Path(entry.path))
                    append(
                        ScannedFile(
                            prefix + entry.name,
                            st.st_ino,
                            st.st_mtime_ns,
                            st.st_size,
                            bool(st.st_mode & 0o100),
                        )
                    )
    found.sort()
    return found


def _follow_folder_link(link: Path, boundary: Boundary | None) -> bool:
    """Whether to walk into the folder ``link`` leads to (refusing it with a boundary)."""
    if boundary is not None:
        boundary.check_read(link)
    real = os.path.realpath(link)
    holder = os.path.realpath(link.parent)
    if holder == real or holder.startswith(real.rstrip(os.sep) + os.sep):
        if boundary is None:
            return False
        from loopline.core.errors import InvalidInput

        raise InvalidInput(
            f"{link} is a symlink to {real}, a folder holding it: following it would loop",
            hint=f"remove the symlink {link}",
        )
    return True


def dir_token(files: list[ScannedFile]) -> str:
    """A fingerprint of every file's identity and stat; equal tokens mean an unchanged tree."""
    # tuple.__repr__ runs in C; the NamedTuple's own repr would not.
    return hash_bytes(repr(list(map(tuple, files))).encode("utf-8", "surrogateescape"))
