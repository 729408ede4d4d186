"""Finding, reading and resolving a project's pipeline file (``dvc.yaml`` or ``pipeline.yaml``)."""

from __future__ import annotations

from pathlib import Path

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.yaml_loader import read_yaml_text
from loopline.pipeline._dag import build_graph, topological_order
from loopline.pipeline._files import load_yaml
from loopline.pipeline._model import PIPELINE_NAMES, Pipeline
from loopline.pipeline._resolve import resolve_pipeline_file

__all__ = ["find_pipeline_file", "load_pipeline"]

_TEMPLATE_HINT = "fix the syntax; note that ${...} inside [a, b] lists must be quoted"


def find_pipeline_file(root: Path) -> str | None:
    """The name of the pipeline file in ``root``, or None if there is none."""
    found = [name for name in PIPELINE_NAMES if (root / name).is_file()]
    if len(found) > 1:
        raise InvalidInput(
            f"{root} has both {found[0]} and {found[1]}",
            hint="keep one pipeline file (they share one schema)",
        )
    return found[0] if found else None


def load_pipeline(root: Path) -> Pipeline:
    """The resolved, checked pipeline of the project at ``root``, stages in run order."""
    name = find_pipeline_file(root)
    if name is None:
        raise NotFound(
            f"no pipeline file in {root}",
            hint=f"write the stages into {PIPELINE_NAMES[0]} (DVC's format)",
        )
    text = read_yaml_text(root / name, name)
    doc = load_yaml(text, name, root, hint=_TEMPLATE_HINT if "${" in text else None)
    resolved = resolve_pipeline_file(root, name, doc)
    names = [s.name for s in resolved.stages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(
            f"{name}: stage '{duplicates[0]}' is defined twice (a foreach/matrix name clashes)",
            hint="rename one of the stages",
        )
    upstream = build_graph(resolved.stages)
    order = topological_order(names, upstream)
    by_name = {s.name: s for s in resolved.stages}
    return Pipeline(
        root=root,
        file=name,
        stages={n: by_name[n] for n in order},
        upstream=upstream,
        metrics=resolved.metrics,
        params=resolved.params,
        vars_files=resolved.vars_files,
    )
