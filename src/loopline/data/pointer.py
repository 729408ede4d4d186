"""Pointer files: the small YAML file committed to git in place of tracked data (DVC's ``.dvc``).

::

    outs:
    - path: data            # relative to the pointer file's folder
      hash: blake3
      oid: 5be1...c2.dir    # a directory manifest ends in .dir
      size: 102400
      nfiles: 20
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.hashing import HASH_NAME, is_hash
from loopline.core.project import DOT_DIR
from loopline.core.yaml_loader import read_yaml_text
from loopline.objects.manifest import DIR_SUFFIX

__all__ = [
    "POINTER_SUFFIX",
    "Pointer",
    "find_pointers",
    "parse_pointer",
    "pointer_path_for",
    "read_pointer",
]

POINTER_SUFFIX = ".loopline"
# Folders never searched for pointer files: tools' caches and environments.
_SKIP_DIRS = frozenset(
    {
        ".git",
        DOT_DIR,
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".hypothesis",
    }
)


@dataclass(frozen=True)
class Pointer:
    """One tracked path: where the pointer file is and what content the data should have."""

    file: str  # the pointer file, relative to the project root
    path: str  # the tracked data, relative to the project root
    oid: str
    size: int
    nfiles: int | None = None
    isexec: bool = False

    @property
    def is_dir(self) -> bool:
        return self.oid.endswith(DIR_SUFFIX)

    def to_yaml(self) -> str:
        import yaml

        out: dict[str, Any] = {
            "path": Path(self.path).name,
            "hash": HASH_NAME,
            "oid": self.oid,
            "size": self.size,
        }
        if self.nfiles is not None:
            out["nfiles"] = self.nfiles
        if self.isexec:
            out["isexec"] = True
        return yaml.safe_dump({"outs": [out]}, sort_keys=False)


def pointer_path_for(data_path: str) -> str:
    return data_path + POINTER_SUFFIX


def read_pointer(root: Path, pointer_file: str) -> Pointer:
    """Read, parse and validate a pointer file; a hand-edited mess gets a precise error."""
    try:
        text = read_yaml_text(root / pointer_file, pointer_file)
    except FileNotFoundError:
        raise NotFound(
            f"pointer file {pointer_file} does not exist",
            hint="run `loopline add PATH` to start tracking the data",
        ) from None
    return parse_pointer(pointer_file, text, root)


def parse_pointer(pointer_file: str, text: str, root: Path | None = None) -> Pointer:
    """Parse the text of ``pointer_file`` (relative to the project root), e.g. read from git;
    with the project ``root``, text parsed before is not parsed again."""
    from loopline.core.parsed import parse_once, parsed_cache_dir

    cache = parsed_cache_dir(root) if root is not None else None
    doc = parse_once(text, cache, lambda t: _parse_yaml(pointer_file, t))
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list) or len(doc["outs"]) != 1:
        raise _invalid(pointer_file, "it must hold 'outs:' with exactly one entry")
    out = doc["outs"][0]
    if not isinstance(out, dict):
        raise _invalid(pointer_file, "its 'outs' entry must be a mapping")
    return _pointer_from(pointer_file, out)


def _parse_yaml(pointer_file: str, text: str) -> Any:
    from loopline.core.yaml_loader import load_yaml

    try:
        return load_yaml(text, pointer_file)
    except InvalidInput as exc:
        raise _invalid(pointer_file, exc.message.removeprefix(pointer_file + ", ")) from None


def _pointer_from(pointer_file: str, out: dict[str, Any]) -> Pointer:
    name, oid, size = out.get("path"), out.get("oid"), out.get("size")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise _invalid(
            pointer_file, f"'path' must be the name of a file or folder beside it, got {name!r}"
        )
    if out.get("hash", HASH_NAME) != HASH_NAME:
        raise _invalid(pointer_file, f"'hash' must be {HASH_NAME}, got {out.get('hash')!r}")
    if not isinstance(oid, str) or not is_hash(oid.removesuffix(DIR_SUFFIX)):
        raise _invalid(pointer_file, f"'oid' must be a {HASH_NAME} hex digest, got {oid!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(pointer_file, f"'size' must be a non-negative integer, got {size!r}")
    nfiles = out.get("nfiles")
    if nfiles is not None and (not isinstance(nfiles, int) or nfiles < 0):
        raise _invalid(pointer_file, f"'nfiles' must be a non-negative integer, got {nfiles!r}")
    folder = os.path.dirname(pointer_file)
    path = f"{folder}/{name}" if folder else name
    if pointer_file != path + POINTER_SUFFIX:
        raise _invalid(
            pointer_file, f"it tracks {name!r} but is named for {Path(pointer_file).name!r}"
        )
    return Pointer(pointer_file, path, oid, size, nfiles, bool(out.get("isexec", False)))


def _invalid(pointer_file: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"pointer file {pointer_file} is invalid: {why}",
        hint=f"restore it with `git checkout -- {pointer_file}`, or re-add the data "
        "with `loopline add`",
    )


def find_pointers(root: Path) -> Iterator[str]:
    """Every pointer file in the project, without descending into tracked folders."""
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = root / rel if rel else root
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        names = {e.name for e in entries}
        for entry in entries:
            if entry.name.endswith(POINTER_SUFFIX) and entry.is_file():
                yield f"{rel}{entry.name}"
        for entry in entries:
            if (
                entry.is_dir(follow_symlinks=False)
                and entry.name not in _SKIP_DIRS
                and entry.name + POINTER_SUFFIX not in names
            ):
                stack.append(f"{rel}{entry.name}/")
