"""The resolved pipeline as the Kubeflow compiler needs it (``KfpStage`` values)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loopline.pipeline._load import load_pipeline

if TYPE_CHECKING:
    from loopline.pipeline._kfp import KfpStage

__all__ = ["kfp_stages"]


def kfp_stages(root: Path) -> list[KfpStage]:
    """Every resolved stage in topological order, paths relative to the project root."""
    from loopline.pipeline._kfp import KfpStage

    pipeline = load_pipeline(root)
    return [
        KfpStage(
            name=stage.name,
            commands=stage.commands,
            wdir=stage.wdir,
            deps=stage.deps,
            outs=tuple(o.path for o in stage.outs if o.cache),  # the remote carries cached outs
            upstream=pipeline.upstream[name],
        )
        for name, stage in pipeline.stages.items()
    ]
