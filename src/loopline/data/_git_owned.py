"""Files that belong in git, never in the cache: what Loopline itself and the pipeline read."""

from __future__ import annotations

from pathlib import Path

from loopline.core.errors import LooplineError
from loopline.data.pointer import POINTER_SUFFIX

__all__ = ["git_owned_reason"]

# Read by Loopline wherever they are (``.gitignore`` in every folder; pointers beside data).
_ANYWHERE = {".gitignore": "git's ignore list", ".dvcignore": "DVC's ignore list"}
# Read at the project root.
_AT_ROOT = {
    "dvc.yaml": "the pipeline file",
    "pipeline.yaml": "the pipeline file",
    "dvc.lock": "DVC's lock file",
    "loopline.lock": "the pipeline's lock file",
    "params.yaml": "the pipeline's parameters file",
}


def git_owned_reason(root: Path, rel: str) -> str | None:
    """Why ``rel`` must stay in git (a phrase), or None if it may be tracked as data."""
    name = rel.rsplit("/", 1)[-1]
    if name.endswith(POINTER_SUFFIX):
        return "a pointer file"
    if name in _ANYWHERE:
        return _ANYWHERE[name]
    if rel in _AT_ROOT:
        return _AT_ROOT[rel]
    params = _pipeline_params_files(root)
    if rel in params:
        return "a parameters file the pipeline reads"
    inside = sorted(p for p in params | set(_AT_ROOT) if p.startswith(rel + "/"))
    if inside and (root / rel).is_dir():
        return f"a folder holding {inside[0]}, a file the pipeline reads"
    return None


def _pipeline_params_files(root: Path) -> set[str]:
    from loopline.pipeline import find_pipeline_file, load_pipeline

    if find_pipeline_file(root) is None:
        return set()
    try:
        pipeline = load_pipeline(root)
    except LooplineError:
        return set()  # a broken pipeline file is reported by the pipeline commands
    files = {dep.file for stage in pipeline.stages.values() for dep in stage.params}
    return files | set(pipeline.params) | set(pipeline.vars_files)
