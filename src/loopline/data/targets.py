"""Stage names as targets of the data verbs: ``checkout train`` means the outputs of ``train``.

As in DVC, ``checkout``, ``push``, ``pull`` and ``fetch`` accept a stage name (or a
``foreach``/``matrix`` group name, or ``dvc.yaml:name``) wherever they accept a tracked path;
it stands for the stage's outputs. A name that is also tracked data means the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from loopline.data.pointer import POINTER_SUFFIX
from loopline.data.workspace import Workspace

__all__ = ["expand_stage_targets"]


def expand_stage_targets(ws: Workspace, targets: Sequence[str]) -> list[str]:
    if not targets:
        return []
    from loopline.pipeline import has_pipeline, load_pipeline  # only when targets are named

    if not has_pipeline(ws):
        return list(targets)
    stages = load_pipeline(ws.root).stages
    expanded: list[str] = []
    for target in targets:
        name = (
            target.rsplit(":", 1)[-1]
            if target.startswith(("dvc.yaml:", "pipeline.yaml:"))
            else target
        )
        tracked = (ws.root / (target + POINTER_SUFFIX)).exists() or (ws.root / target).exists()
        outs = [
            o.path
            for stage in stages.values()
            if name in (stage.name, stage.group)
            for o in stage.outs
            if o.cache
        ]
        if outs and not tracked:
            expanded.extend(outs)
        else:
            expanded.append(target)
    return list(dict.fromkeys(expanded))
