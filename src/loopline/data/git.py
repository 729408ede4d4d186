"""The few git questions data versioning asks, answered by the ``git`` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from loopline.core.errors import InvalidInput, NotFound

__all__ = [
    "cat_objects",
    "first_commit_with",
    "git_show_files",
    "head_commit",
    "is_git_work_tree",
    "list_files_at",
    "resolve_revision",
]


def _git(root: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=root, input=input, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise InvalidInput(
            "git is not installed", hint="install git to compare revisions"
        ) from None


def head_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside git or before the first commit."""
    done = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def first_commit_with(root: Path, path: str, text: str) -> str | None:
    """The oldest commit in HEAD's history that added ``text`` to file ``path``, or None
    (not committed yet, or not a git repository)."""
    done = _git(root, "log", "--format=%H", "--reverse", f"-S{text}", "--", path)
    if done.returncode != 0:
        return None
    lines = done.stdout.decode().split()
    return lines[0] if lines else None


def is_git_work_tree(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-inside-work-tree").returncode == 0


def resolve_revision(root: Path, rev: str) -> str:
    if not is_git_work_tree(root):
        raise InvalidInput(
            f"{root} is not a git repository, so there is no revision {rev!r} to compare with",
            hint="run `git init` and commit your pointer files",
        )
    done = _git(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise NotFound(
            f"git revision {rev!r} does not exist", hint="check `git log` for valid revisions"
        )
    return done.stdout.decode().strip()


def list_files_at(root: Path, commit: str, suffix: str) -> list[str]:
    """Paths (relative to ``root``) of files ending in ``suffix`` in ``commit``."""
    done = _git(root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", commit)
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    names = [n for n in done.stdout.decode().split("\0") if n.endswith(suffix)]
    return [n[len(prefix) :] for n in names if n.startswith(prefix)]


def git_show_files(root: Path, commit: str, paths: list[str]) -> dict[str, bytes]:
    """The contents of ``paths`` at ``commit``, read in one ``git cat-file --batch`` call."""
    if not paths:
        return {}
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    found = cat_objects(root, [f"{commit}:{prefix}{p}" for p in paths])
    return {p: found[f"{commit}:{prefix}{p}"] for p in paths if f"{commit}:{prefix}{p}" in found}


def cat_objects(root: Path, names: list[str]) -> dict[str, bytes]:
    """Git objects (blob ids or ``REV:PATH``) by name, in one ``git cat-file --batch`` call;
    names git does not have are left out."""
    if not names:
        return {}
    request = "".join(f"{n}\n" for n in names).encode()
    out = _git(root, "cat-file", "--batch", input=request).stdout
    contents: dict[str, bytes] = {}
    pos = 0
    for name in names:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        contents[name] = out[pos : pos + size]
        pos += size + 1
    return contents
