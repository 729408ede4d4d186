"""The project boundary: symlinks are followed only while they stay inside the project.

The rule (DVC's, made strict for writes):

* Reading (``add``, ``status``, hashing stage outputs): a symlinked file or folder is followed
  when its real location is inside the project; a link that leads out is refused, so nothing
  outside the project (``/etc/passwd``, a home folder) is copied into the cache or pushed.
* Writing (``checkout``, ``checkout -f``, ``pull``, restoring stage outputs): nothing is ever
  written through a link that leads outside the project, whether the link is the path itself
  or one of its parent folders.

A link into Loopline's own object cache counts as inside: the ``symlink`` cache type makes such
links on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

from loopline.core.errors import InvalidInput

__all__ = ["Boundary"]


class Boundary:
    """The real locations a workspace path may lead to: the project (and its object cache)."""

    def __init__(self, root: Path, *also: Path) -> None:
        self.root = root
        self._real = [os.path.realpath(root), *(os.path.realpath(p) for p in also)]

    def contains(self, real: str) -> bool:
        return any(real == inside or real.startswith(inside + os.sep) for inside in self._real)

    def check_read(self, path: Path) -> None:
        """Refuse ``path`` if it (or a parent folder) is a symlink whose target is outside."""
        real = os.path.realpath(path)
        if not self.contains(real):
            raise self._refusal(path, real, "read")

    def check_write(self, path: Path) -> None:
        """Refuse writing ``path`` if its parent folders, or ``path`` itself when it is a link to
        a folder, lead outside. A final link to a file is replaced, never written through."""
        parent_real = os.path.realpath(path.parent)
        if not self.contains(parent_real):
            raise self._refusal(path, parent_real, "write")
        if os.path.islink(path) and os.path.isdir(path):
            real = os.path.realpath(path)
            if not self.contains(real):
                raise self._refusal(path, real, "write")

    def _refusal(self, path: Path, real: str, action: str) -> InvalidInput:
        shown = _shown(path, self.root)
        if action == "read":
            return InvalidInput(
                f"{shown} leads through a symlink to {real}, outside the project; Loopline "
                "follows symlinks only while they stay inside the project",
                hint="Loopline stores only what is inside the project: copy or move the data "
                "into it, or remove the link",
            )
        return InvalidInput(
            f"refusing to write {shown}: it leads through a symlink to {real}, outside the "
            "project, and Loopline never writes outside the project",
            hint=f"remove the symlink ({shown} or the linked parent folder) and run the "
            "command again",
        )


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
