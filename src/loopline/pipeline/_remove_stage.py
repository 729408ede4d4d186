"""Removing a stage (``dvc remove STAGE``): its definition from the pipeline file and its
entries from the lock; its outputs stay unless asked, their ``.gitignore`` lines go.

The pipeline file is hand-written, with comments and layout the user cares about, so it is
edited as text: the lines from the stage's key up to the next stage's key are cut, found with
the YAML parser's own positions. The result is parsed again and written only if every other
stage reads back exactly as before. A ``foreach``/``matrix`` group is removed whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.yaml_loader import read_yaml_text
from loopline.data.gitignore import unignore_in_git
from loopline.data.workspace import Workspace
from loopline.pipeline._load import find_pipeline_file
from loopline.pipeline._lock import read_lock, write_lock
from loopline.pipeline._model import LOCK_NAME

__all__ = ["RemovedStage", "pipeline_stage_keys", "remove_stages"]


@dataclass(frozen=True)
class RemovedStage:
    name: str  # the key in the pipeline file (a group name for foreach/matrix)
    outs: tuple[str, ...]  # outputs recorded in the lock
    outs_deleted: bool


def pipeline_stage_keys(ws: Workspace) -> set[str]:
    """The stage keys the pipeline file defines (none without one)."""
    from loopline.core.yaml_loader import load_yaml, read_yaml_text

    name = find_pipeline_file(ws.root)
    if name is None:
        return set()
    try:
        doc = load_yaml(read_yaml_text(ws.root / name, name), name)
    except InvalidInput:
        return set()
    stages = doc.get("stages") if isinstance(doc, dict) else None
    return {str(k) for k in stages} if isinstance(stages, dict) else set()


def remove_stages(
    ws: Workspace, names: Sequence[str], *, outs: bool = False, force: bool = False
) -> list[RemovedStage]:
    file = find_pipeline_file(ws.root)
    if file is None:
        raise NotFound("this project has no pipeline file", hint="nothing to remove")
    path = ws.root / file
    keys = [n.rsplit(":", 1)[-1] for n in names]  # "dvc.yaml:train" names "train"
    with ws.lock():
        text = read_yaml_text(path, file)
        for key in keys:
            text = _cut_stage(text, key, file)
        lock = read_lock(ws.root / LOCK_NAME)
        removed: list[RemovedStage] = []
        dropped = {k: [n for n in lock if n == k or n.split("@", 1)[0] == k] for k in keys}
        recorded = {k: [o for n in dropped[k] for o in lock[n].outs] for k in keys}
        if outs and not force:
            _refuse_unsaved(ws, [o for k in keys for o in recorded[k]])
        from loopline.core.atomic import atomic_write_text

        atomic_write_text(path, text)
        for key in keys:
            for name in dropped[key]:
                del lock[name]
        write_lock(ws.root / LOCK_NAME, lock)
        for key in keys:
            for out in recorded[key]:
                if outs:
                    from loopline.data.remove import delete_path
                    from loopline.pipeline._paths import check_writable

                    delete_path(check_writable(ws.root, out.path, f"output of stage '{key}'"))
                if out.cache:
                    unignore_in_git(ws.root, out.path)
            removed.append(RemovedStage(key, tuple(o.path for o in recorded[key]), outs))
    return removed


def _refuse_unsaved(ws: Workspace, recorded: list[Any]) -> None:
    from loopline.data.pointer import Pointer
    from loopline.data.remove import refuse_if_unsaved

    for out in recorded:
        pointer = Pointer(LOCK_NAME, out.path, out.oid, out.size, out.nfiles, out.isexec)
        refuse_if_unsaved(ws, pointer, "remove --outs would delete them")


def _cut_stage(text: str, key: str, file: str) -> str:
    from loopline.core.yaml_loader import compose_yaml

    root: Any = compose_yaml(text, file)
    stages = _stages_node(root, file)
    pairs = stages.value
    index = next((i for i, (k, _) in enumerate(pairs) if k.value == key), None)
    if index is None:
        raise NotFound(
            f"stage '{key}' is not in {file}",
            hint=f"stages: {', '.join(k.value for k, _ in pairs) or 'none'}",
        )
    lines = text.splitlines(keepends=True)
    start = pairs[index][0].start_mark.line
    indent = " " * pairs[index][0].start_mark.column
    while start > 0 and lines[start - 1].startswith(indent + "#"):
        start -= 1  # a comment right above the stage's key describes the stage
    end = pairs[index + 1][0].start_mark.line if index + 1 < len(pairs) else None
    if end is None:
        end = stages.end_mark.line if stages.end_mark.column == 0 else stages.end_mark.line + 1
    while end - 1 > start and lines[end - 1].lstrip().startswith("#"):
        end -= 1  # a comment just above the next key belongs to what follows
    kept = lines[:start] + lines[end:]
    if len(pairs) == 1:  # the last stage: leave an empty mapping, not a null
        header = root.value[[k.value for k, _ in root.value].index("stages")][0].start_mark.line
        kept[header] = kept[header].rstrip("\n").rstrip() + " {}\n"
    new = "".join(kept)
    _check_rest(text, new, key, file)
    return new


def _stages_node(root: Any, file: str) -> Any:
    import yaml

    if not isinstance(root, yaml.MappingNode):
        raise InvalidInput(f"{file} has no 'stages' mapping")
    for k, v in root.value:
        if k.value == "stages":
            if not isinstance(v, yaml.MappingNode) or v.flow_style:
                raise InvalidInput(
                    f"{file} writes 'stages' in flow style ({{...}}), which cannot be edited "
                    "safely",
                    hint="delete the stage by hand",
                )
            return v
    raise InvalidInput(f"{file} has no 'stages' mapping")


def _check_rest(old: str, new: str, key: str, file: str) -> None:
    from loopline.core.yaml_loader import load_yaml

    before = load_yaml(old, file)
    try:
        after = load_yaml(new, file)
    except InvalidInput:
        after = None
    expected = {k: v for k, v in before.items() if k != "stages"}
    expected["stages"] = {k: v for k, v in before["stages"].items() if k != key}
    if not isinstance(after, dict) or {**after, "stages": after.get("stages") or {}} != expected:
        raise InvalidInput(
            f"removing stage '{key}' from {file} as text would change other parts of it",
            hint="delete the stage by hand",
        )
