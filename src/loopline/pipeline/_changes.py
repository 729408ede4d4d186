"""Why a stage is stale: what changed since the lock, in the order and words of ``dvc status``.

A stage is stale when its command changed, a dep's content or a used param value changed, or
an out is missing or differs. ``always_changed`` stages are always stale; ``frozen`` stages
are never re-run, so only their outs are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopline.pipeline._lock import LockedPath, LockEntry
from loopline.pipeline._model import Stage
from loopline.pipeline._params import ParamsReader

__all__ = ["StageChanges", "stage_changes"]

Hasher = Callable[[str], LockedPath | None]


@dataclass
class StageChanges:
    name: str
    deps: dict[str, Any] = field(default_factory=dict)  # path → state; params file → {key: state}
    outs: dict[str, str] = field(default_factory=dict)
    command: bool = False
    always: bool = False

    def __bool__(self) -> bool:
        return bool(self.deps or self.outs or self.command or self.always)

    def as_json(self) -> list[Any]:
        """The list ``dvc status --json`` prints for one stage."""
        found: list[Any] = []
        if self.deps:
            found.append({"changed deps": self.deps})
        if self.outs:
            found.append({"changed outs": self.outs})
        if self.always:
            found.append("always changed")
        if self.command:
            found.append("changed command")
        return found

    def summary(self) -> str:
        """One line for people: 'changed deps: data.csv (modified); changed command'."""
        parts = []
        for title, items in (("deps", self.deps), ("outs", self.outs)):
            if items:
                shown = ", ".join(
                    f"{p} ({s})"
                    if isinstance(s, str)
                    else f"{p}: " + ", ".join(f"{k} ({v})" for k, v in s.items())
                    for p, s in items.items()
                )
                parts.append(f"changed {title}: {shown}")
        if self.always:
            parts.append("always changed")
        if self.command:
            parts.append("changed command")
        return "; ".join(parts)


def stage_changes(
    stage: Stage, entry: LockEntry | None, hasher: Hasher, params: ParamsReader
) -> StageChanges:
    changes = StageChanges(stage.name)
    if not stage.frozen:
        _deps(stage, entry, hasher, changes)
        _params(stage, entry, params, changes)
    _outs(stage, entry, hasher, changes)
    # A stage with nothing to compare (no deps, params or outs) runs every time, as in DVC.
    callback = not (stage.deps or stage.params or stage.outs)
    changes.always = (stage.always_changed or callback) and not stage.frozen
    if entry is not None and not stage.frozen:
        changes.command = (
            entry.cmd != stage.cmd
            or {d.path for d in entry.deps} != set(stage.deps)
            or {o.path for o in entry.outs} != {o.path for o in stage.outs}
            or any(
                o.cache != stage_out.cache
                for o in entry.outs
                if (stage_out := stage.out(o.path)) is not None
            )
        )
    return changes


def _deps(stage: Stage, entry: LockEntry | None, hasher: Hasher, changes: StageChanges) -> None:
    locked = {d.path: d.oid for d in entry.deps} if entry else {}
    for dep in stage.deps:
        current = hasher(dep)
        if current is None:
            changes.deps[dep] = "deleted"
        elif entry is not None and dep not in locked:
            changes.deps[dep] = "new"
        elif locked.get(dep) != current.oid:
            changes.deps[dep] = "modified"


def _params(
    stage: Stage, entry: LockEntry | None, reader: ParamsReader, changes: StageChanges
) -> None:
    current = reader.current(stage.params)
    for dep in stage.params:
        locked = entry.params.get(dep.file) if entry else None
        now = current[dep.file]
        if locked is None:
            changes.deps[dep.file] = "new"
            continue
        if now is None:
            changes.deps[dep.file] = "deleted"
            continue
        keys = dep.keys or tuple(dict.fromkeys([*locked, *now]))
        states = {}
        for key in keys:
            if key not in now:
                states[key] = "deleted"
            elif key not in locked:
                states[key] = "new"
            elif locked[key] != now[key] or type(locked[key]) is not type(now[key]):
                states[key] = "modified"
        if states:
            changes.deps[dep.file] = states


def _outs(stage: Stage, entry: LockEntry | None, hasher: Hasher, changes: StageChanges) -> None:
    locked = {o.path: o.oid for o in entry.outs} if entry else {}
    for out in stage.outs:
        current = hasher(out.path)
        if current is None:
            changes.outs[out.path] = "deleted"
        elif entry is not None and out.path not in locked:
            changes.outs[out.path] = "new"
        elif locked.get(out.path) != current.oid:
            changes.outs[out.path] = "modified"
