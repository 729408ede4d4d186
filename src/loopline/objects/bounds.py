"""The project boundary: symlinks are followed only while they stay inside the project.

The rule (DVC's, made strict for writes):

* Reading (``add``, ``status``, hashing stage outputs): a symlinked file or folder is followed
  when its real location is inside the project; a link that leads out is refused, so nothing
  outside the project (``/etc/passwd``, a home folder) is copied into the cache or pushed.
* Writing (``checkout``, ``checkout -f``, ``pull``, restoring stage outputs): nothing is ever
  written through a link that leads outside the project, whether the link is the path itself
  or one of its parent folders.

A link into Loopline's own object cache counts as inside: the ``symlink`` cache type makes such
links on purpose. Some places inside the project are never data, whichever name leads there:
git's folder, Loopline's own folder (its cache aside), the pipeline and lock files at the root,
and the project root itself or a folder above it (a link to ``.`` would store, and on
checkout rewrite, the whole project with ``.git`` in it). A link resolving to one of them is
refused for reading and for writing.
"""

from __future__ import annotations

import os
from pathlib import Path

from loopline.core.errors import InvalidInput

__all__ = ["PROTECTED_ROOT_FILES", "Boundary"]

# Files at the project root that Loopline and the pipeline read: kept in git, never data.
PROTECTED_ROOT_FILES = frozenset(
    {"dvc.yaml", "pipeline.yaml", "dvc.lock", "loopline.lock", "params.yaml", ".dvcignore"}
)
_PROTECTED_NAMES = frozenset({".gitignore", ".dvcignore"})
_POINTER_SUFFIX = ".loopline"


class Boundary:
    """The real locations a workspace path may lead to: the project (and its object cache)."""

    def __init__(self, root: Path, *also: Path) -> None:
        self.root = root
        self._root_real = os.path.realpath(root)
        self._real = [self._root_real, *(os.path.realpath(p) for p in also)]
        self._cache_real = os.path.realpath(root / ".loopline" / "objects")
        self._private = [
            os.path.realpath(root / ".git"),
            os.path.realpath(root / ".loopline"),
        ]

    def contains(self, real: str) -> bool:
        return any(_within(real, inside) for inside in self._real)

    def protected(self, real: str) -> str | None:
        """Why the real location ``real`` is never data (a phrase), or None."""
        if real == self._root_real or _within(self._root_real, real):
            return "the project folder itself (or a folder holding it)"
        if _within(real, self._cache_real):
            return None
        for private in self._private:
            if _within(real, private):
                name = os.path.basename(private)
                return (
                    f"inside {name}, Loopline's own folder"
                    if name == ".loopline"
                    else ("inside .git, git's own folder")
                )
        if not _within(real, self._root_real):
            return None
        rel = os.path.relpath(real, self._root_real).replace(os.sep, "/")
        name = rel.rsplit("/", 1)[-1]
        if rel in PROTECTED_ROOT_FILES:
            return f"{rel}, a file the pipeline reads"
        if name in _PROTECTED_NAMES:
            return f"{rel}, an ignore list"
        if name.endswith(_POINTER_SUFFIX):
            return f"{rel}, a pointer file"
        return None

    def check_read(self, path: Path) -> None:
        """Refuse ``path`` if it (or a parent folder) is a symlink whose target is outside,
        or if it leads to a place that is never data (see :meth:`protected`)."""
        real = os.path.realpath(path)
        if not self.contains(real):
            raise self._refusal(path, real, "read")
        self._check_protected(path, real, "read")

    def _check_protected(self, path: Path, real: str, action: str) -> None:
        if real == os.path.abspath(path) and action == "read":
            return  # no link on the way: the commands check typed paths themselves
        why = self.protected(real)
        if why is not None:
            shown = _shown(path, self.root)
            verb = "store" if action == "read" else "write"
            raise InvalidInput(
                f"refusing to {verb} {shown}: it leads through a symlink to {real}, {why}, "
                "which is never data",
                hint=f"remove the symlink {shown} (or the linked parent folder); track the "
                "data itself",
            )

    def check_write(self, path: Path) -> None:
        """Refuse writing ``path`` if its parent folders, or ``path`` itself when it is a link to
        a folder, lead outside. A final link to a file is replaced, never written through."""
        parent_real = os.path.realpath(path.parent)
        if not self.contains(parent_real):
            raise self._refusal(path, parent_real, "write")
        if parent_real != os.path.abspath(path.parent):
            self._check_protected(path, os.path.join(parent_real, path.name), "write")
        if os.path.islink(path) and os.path.isdir(path):
            real = os.path.realpath(path)
            if not self.contains(real):
                raise self._refusal(path, real, "write")
            self._check_protected(path, real, "write")

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


def _within(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
