"""Writing rendered objects as reviewable YAML files plus a ``kustomization.yaml``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from loopline.core.atomic import atomic_write_text
from loopline.deploy.manifests import Rendered

__all__ = ["dump_objects", "write_rendered"]


def dump_objects(objects: list[dict[str, Any]], comment: str = "") -> str:
    header = "".join(f"# {line}\n" for line in textwrap.wrap(comment, 96)) if comment else ""
    documents = [
        yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=100) for obj in objects
    ]
    return header + "---\n".join(documents)


def write_rendered(rendered: Rendered, folder: Path, *, namespace: str, image: str) -> list[Path]:
    """Write one file per group and a kustomization listing them, so ``kubectl apply -k``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (comment, objects) in rendered.files.items():
        path = folder / name
        atomic_write_text(path, dump_objects(objects, comment))
        written.append(path)
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": sorted(rendered.files),
        "images": [{"name": repository, "newTag": tag or "latest"}],
    }
    path = folder / "kustomization.yaml"
    atomic_write_text(
        path,
        "# `kubectl apply -k .` applies everything; change the namespace or the image tag here\n"
        "# (or in an overlay that lists this folder as a resource).\n"
        + yaml.safe_dump(kustomization, sort_keys=False),
    )
    written.append(path)
    return written
