"""Keeping tracked data out of git: one ``/name`` line in the ``.gitignore`` beside it."""

from __future__ import annotations

from pathlib import Path

from loopline.core.atomic import atomic_write_text

__all__ = ["ignore_in_git", "unignore_in_git"]


def ignore_in_git(root: Path, data_path: str) -> bool:
    """Add ``/name`` to the ``.gitignore`` next to ``data_path``; True if the file changed."""
    target = root / data_path
    entry = "/" + target.name
    gitignore = target.parent / ".gitignore"
    try:
        text = gitignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = text.splitlines()
    if entry in lines:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write_text(gitignore, text + entry + "\n")
    return True


def unignore_in_git(root: Path, data_path: str) -> bool:
    """Drop the ``/name`` line that :func:`ignore_in_git` wrote; a ``.gitignore`` left with
    nothing in it is deleted. True if the file changed."""
    target = root / data_path
    entry = "/" + target.name
    gitignore = target.parent / ".gitignore"
    try:
        text = gitignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    lines = text.splitlines()
    if entry not in lines:
        return False
    kept = [line for line in lines if line != entry]
    if any(line.strip() for line in kept):
        atomic_write_text(gitignore, "\n".join(kept) + "\n")
    else:
        gitignore.unlink()
    return True
