"""Which stages' last run did not finish, so that their outs are leftovers, not hand edits.

``repro`` writes a small mark for a stage when its command starts and removes it once the
stage's outs are committed or put back. A mark that outlives its ``repro`` (killed with
``kill -9``, or the machine went down: the stage's command may even have gone on writing) or
that records a failed command means the outs on disk are what that run left behind, which
``repro --force STAGE`` replaces; ``commit`` would record them as if they were good.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, unquote

from loopline.data.workspace import Workspace

__all__ = ["forget_run", "mark_failed", "mark_started", "unfinished_runs"]


def _folder(ws: Workspace) -> Path:
    return ws.paths.tmp_dir / "stage-runs"


def _mark(ws: Workspace, stage: str) -> Path:
    return _folder(ws) / quote(stage, safe="")


def mark_started(ws: Workspace, stage: str) -> None:
    _write(ws, stage, {"pid": os.getpid(), "failed": False})


def mark_failed(ws: Workspace, stage: str) -> None:
    _write(ws, stage, {"pid": os.getpid(), "failed": True})


def forget_run(ws: Workspace, stage: str) -> None:
    _mark(ws, stage).unlink(missing_ok=True)


def unfinished_runs(ws: Workspace) -> dict[str, str]:
    """Stage name → "killed" or "failed", for stages whose last run left its outs unfinished
    (a stage running right now in another ``repro`` is not one of them)."""
    found: dict[str, str] = {}
    folder = _folder(ws)
    if not folder.is_dir():
        return found
    for mark in folder.iterdir():
        try:
            data = json.loads(mark.read_text(encoding="utf-8"))
            pid, failed = int(data["pid"]), bool(data["failed"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if failed:
            found[unquote(mark.name)] = "failed"
        elif not _alive(pid):
            found[unquote(mark.name)] = "killed"
    return found


def _write(ws: Workspace, stage: str, data: dict[str, object]) -> None:
    mark = _mark(ws, stage)
    mark.parent.mkdir(parents=True, exist_ok=True)
    temp = mark.with_name(f".{mark.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, mark)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
