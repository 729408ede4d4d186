"""Which project paths a stage may read, write and delete, and which ones a lock may name.

Stage and lock paths are relative to the project root. None of them may be empty, the root
itself, absolute, outside the project, or inside ``.git`` or Loopline's own folder; and a path
about to be deleted or written must not lead, through a symlink, out of the project.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from loopline.core.errors import InvalidInput
from loopline.core.project import DOT_DIR

__all__ = ["check_writable", "path_problem"]

_RESERVED = (".git", DOT_DIR)


def path_problem(path: str, *, root_ok: bool = False) -> str | None:
    """Why ``path`` (already relative to the project root) cannot be used, or None."""
    if not path:
        return "is empty"
    if posixpath.isabs(path) or os.path.isabs(path):
        return "is absolute"
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return "is outside the project"
    if normal == ".":
        return None if root_ok else "is the project root itself"
    first = normal.split("/")[0]
    if first in _RESERVED:
        return f"is inside {first}/"
    return None


def check_writable(root: Path, relpath: str, what: str) -> Path:
    """The path of ``relpath`` under ``root``, refusing one whose real location (symlinks of
    its parent folders followed) is outside the project or inside ``.git``/Loopline's folder.
    A final symlink is fine: deleting it removes the link, not what it points to."""
    problem = path_problem(relpath)
    path = root / relpath
    if problem is None:
        real_root = os.path.realpath(root)
        real = os.path.join(os.path.realpath(path.parent), path.name)
        inside = os.path.relpath(real, real_root).replace(os.sep, "/")
        if inside == "." or inside == ".." or inside.startswith("../"):
            problem = f"leads through a symlink to {real}, outside the project"
        elif inside.split("/")[0] in _RESERVED:
            problem = f"leads through a symlink into {inside.split('/')[0]}/"
    if problem is not None:
        raise InvalidInput(
            f"refusing to delete or write {what} {relpath}: it {problem}",
            hint="point the path at a file or folder inside the project (not through a "
            "symlink that leaves it)",
        )
    return path
