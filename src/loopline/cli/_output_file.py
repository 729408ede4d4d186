"""Files that ``--html``/``-o`` options name: checked before any work, written atomically, and
every error naming the user's path (never a temporary file's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from loopline.core.errors import InvalidInput, LooplineError

__all__ = ["checked_output", "copy_output", "write_output"]


def checked_output(text: str, option: str) -> Path:
    """The file ``option`` names, refused when it is empty, a folder, or in a missing folder."""
    if not text.strip():
        raise InvalidInput(
            f"{option} was given an empty path", hint=f"give a file name, e.g. {option} out.html"
        )
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise InvalidInput(
            f"{option} {text} is a folder, not a file", hint="give a file name inside it"
        )
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInput(
            f"cannot write {text}: the folder {folder} does not exist",
            hint=f"create it first (mkdir -p {folder}) or choose another {option} path",
        )
    return path


def write_output(path: Path, text: str) -> None:
    from loopline.core.atomic import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise LooplineError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check the folder's permissions and free space",
        ) from None


def copy_output(source: Path, path: Path) -> None:
    try:
        shutil.copyfile(source, path)
    except OSError as exc:
        raise LooplineError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check the folder's permissions and free space",
        ) from None
