"""Drawing the stage graph: plain text, Mermaid or Graphviz DOT."""

from __future__ import annotations

from loopline.pipeline._model import Pipeline

__all__ = ["render_dag"]


def render_dag(pipeline: Pipeline, style: str = "text") -> str:
    names = list(pipeline.stages)
    ids = {name: f"s{i}" for i, name in enumerate(names)}
    edges = [(parent, name) for name in names for parent in pipeline.upstream[name]]
    if style == "mermaid":
        lines = ["flowchart TD"]
        lines += [f'\t{ids[n]}["{n}"]' for n in names]
        lines += [f"\t{ids[a]}-->{ids[b]}" for a, b in edges]
        return "\n".join(lines)
    if style == "dot":
        lines = ["strict digraph {"]
        lines += [f'"{n}";' for n in names]
        lines += [f'"{a}" -> "{b}";' for a, b in edges]
        return "\n".join([*lines, "}"])
    lines = []
    for name in names:
        parents = pipeline.upstream[name]
        lines.append(f"{name}" + (f"  <- {', '.join(parents)}" if parents else ""))
    return "\n".join(lines)
