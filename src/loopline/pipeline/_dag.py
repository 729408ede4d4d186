"""The stage graph: edges from outs to deps, checks that make it well formed, and its order.

Stage B depends on stage A when one of B's deps is A's out, lies inside it, or contains it
(so a dep on a folder collects the outs written into it).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.pipeline._model import Stage

__all__ = ["build_graph", "select", "topological_order"]


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + "/")


def _overlaps(a: str, b: str) -> bool:
    return a == b or _inside(a, b) or _inside(b, a)


def check_outs(stages: Sequence[Stage]) -> None:
    """Refuse two stages writing the same path, or one writing inside another's out."""
    owners: dict[str, str] = {}
    for stage in stages:
        for out in stage.outs:
            if out.path in owners:
                other = owners[out.path]
                who = (
                    f"stages '{other}' and '{stage.name}'"
                    if other != stage.name
                    else (f"stage '{stage.name}' (twice)")
                )
                raise Conflict(
                    f"{out.path} is an output of {who}",
                    hint="each path may be written by one stage only; rename one of them",
                )
            owners[out.path] = stage.name
    paths = sorted(owners)
    for before, after in itertools.pairwise(paths):
        if _inside(after, before):
            raise Conflict(
                f"output {after} of stage '{owners[after]}' is inside output {before} "
                f"of stage '{owners[before]}'",
                hint="an output folder belongs to one stage; write the file elsewhere",
            )


def build_graph(stages: Sequence[Stage]) -> dict[str, tuple[str, ...]]:
    """Stage name → names of the stages it depends on (directly)."""
    check_outs(stages)
    outs = [(o.path, s.name) for s in stages for o in s.outs]
    upstream: dict[str, tuple[str, ...]] = {}
    for stage in stages:
        found: dict[str, None] = {}
        for dep in stage.deps:
            for path, owner in outs:
                if owner != stage.name and _overlaps(dep, path):
                    found[owner] = None
        upstream[stage.name] = tuple(found)
    return upstream


def topological_order(names: Iterable[str], upstream: dict[str, tuple[str, ...]]) -> list[str]:
    """Names ordered so every stage comes after what it depends on (file order kept otherwise)."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            raise InvalidInput(
                f"the pipeline has a cycle: {' -> '.join(cycle)}",
                hint="a stage cannot depend, directly or not, on its own outputs",
            )
        state[name] = 1
        for parent in upstream[name]:
            visit(parent, [*trail, name])
        state[name] = 2
        order.append(name)

    for name in names:
        visit(name, [])
    return order


def select(
    targets: Sequence[str],
    order: Sequence[str],
    upstream: dict[str, tuple[str, ...]],
    *,
    single: bool = False,
) -> list[str]:
    """The stages a command works on, in order: the targets (names, or group names of
    foreach/matrix stages) and, unless ``single``, everything they depend on."""
    if not targets:
        return list(order)
    chosen: set[str] = set()
    for target in (t.rsplit(":", 1)[-1] for t in targets):  # "dvc.yaml:train" names "train"
        matches = [n for n in order if n == target or n.split("@", 1)[0] == target]
        if not matches:
            raise NotFound(
                f"stage '{target}' is not in the pipeline",
                hint=f"stages: {', '.join(order) or 'none'}",
            )
        chosen.update(matches)
    if not single:
        todo = list(chosen)
        while todo:
            for parent in upstream[todo.pop()]:
                if parent not in chosen:
                    chosen.add(parent)
                    todo.append(parent)
    return [n for n in order if n in chosen]
