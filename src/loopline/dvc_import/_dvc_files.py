"""Reading DVC's own files: where ``.dvc`` files and pipeline files are, and what they hold.

Only reads; DVC's files are never written. Shapes follow DVC 3 (``hash: md5`` beside each
entry) and DVC 2 (no ``hash``: the legacy md5 of text with CRLF turned into LF).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DvcOut", "find_dvc_files", "read_dvc_file", "read_dvc_lock"]

_SKIP = frozenset({".git", ".dvc", ".loopline", ".venv", "venv", "node_modules", "__pycache__"})


@dataclass(frozen=True)
class DvcOut:
    """One path DVC recorded: root-relative path, hash, and how to read it."""

    path: str
    md5: str | None
    legacy: bool
    cache: bool = True
    isexec: bool = False


def find_dvc_files(root: Path) -> Iterator[str]:
    """Root-relative paths of every ``.dvc`` file and every ``dvc.yaml`` below the root."""
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP)
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        for name in sorted(files):
            if name.endswith(".dvc") or (name == "dvc.yaml" and prefix):
                yield prefix + name


def _load(path: Path) -> Any:
    """The file's YAML, read as every Loopline file is (repeated keys refused)."""
    from loopline.core.yaml_loader import load_yaml, read_yaml_text

    return load_yaml(read_yaml_text(path, path.name), path.name)


def read_dvc_file(root: Path, rel: str) -> tuple[list[DvcOut], str]:
    """The outs of a ``.dvc`` file, or none and why it cannot be adopted."""
    from loopline.core.errors import InvalidInput

    try:
        doc = _load(root / rel)
    except InvalidInput as exc:
        return [], f"it cannot be read ({exc.message})"
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"it cannot be read ({type(exc).__name__})"
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list):
        return [], "it has no 'outs' list"
    if doc.get("deps"):
        return [], (
            "it was made by `dvc import`/`import-url` (it has deps); Loopline has no imports, "
            "track the data with `loopline add`"
        )
    folder = Path(rel).parent.as_posix()
    outs = []
    for raw in doc["outs"]:
        out = _out(raw, folder)
        if out is None:
            return [], f"an out entry is malformed: {raw!r}"
        outs.append(out)
    return outs, ""


def _out(raw: Any, folder: str) -> DvcOut | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
        return None
    joined = os.path.normpath(os.path.join(folder, raw["path"])).replace(os.sep, "/")
    md5 = raw.get("md5")
    return DvcOut(
        path=joined,
        md5=md5 if isinstance(md5, str) and md5 else None,
        legacy=raw.get("hash") != "md5",
        cache=raw.get("cache", True) is not False,
        isexec=bool(raw.get("isexec", False)),
    )


@dataclass(frozen=True)
class DvcLockStage:
    cmd: Any
    deps: list[DvcOut]
    outs: list[DvcOut]
    params: dict[str, dict[str, Any]]


def read_dvc_lock(path: Path, wdirs: dict[str, str]) -> dict[str, DvcLockStage]:
    """Stages of ``dvc.lock`` with paths made root-relative (DVC writes them relative to the
    stage's ``wdir``); params files likewise. Raises ``ValueError`` for a damaged lock and
    ``InvalidInput`` for one that is not valid YAML."""
    doc = _load(path)
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        raise ValueError("it has no 'stages' mapping")
    found = {}
    for name, raw in stages.items():
        if not isinstance(raw, dict):
            raise ValueError(f"stage '{name}' is not a mapping")
        wdir = wdirs.get(str(name), ".")
        entries = {}
        for key in ("deps", "outs"):
            rows = raw.get(key) or []
            parsed = [_out(row, wdir) for row in rows] if isinstance(rows, list) else [None]
            if any(p is None for p in parsed):
                raise ValueError(f"stage '{name}' has a malformed '{key}' list")
            entries[key] = [p for p in parsed if p is not None]
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError(f"stage '{name}' has malformed params")
        found[str(name)] = DvcLockStage(
            raw.get("cmd"),
            entries["deps"],
            entries["outs"],
            {
                os.path.normpath(os.path.join(wdir, f)).replace(os.sep, "/"): dict(v or {})
                for f, v in params.items()
            },
        )
    return found
