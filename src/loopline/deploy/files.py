"""Writing rendered objects as reviewable YAML files plus a ``kustomization.yaml``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import yaml

from loopline.core.atomic import atomic_write_text
from loopline.core.errors import InvalidInput
from loopline.deploy.manifests import Rendered

__all__ = ["MARKER", "dump_objects", "write_rendered"]

# The first line of every file `loopline k8s render` writes: a later render of the same folder
# removes the marked files it no longer renders (a retired variant, istio.yaml without --istio)
# and never touches a file without it.
MARKER = "# Rendered by `loopline k8s render`; a later render of this folder replaces this file."


def dump_objects(objects: list[dict[str, Any]], comment: str = "") -> str:
    header = f"{MARKER}\n" + (
        "".join(f"# {line}\n" for line in textwrap.wrap(comment, 96)) if comment else ""
    )
    documents = [
        yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=100) for obj in objects
    ]
    return header + "---\n".join(documents)


def _prepare(folder: Path) -> None:
    if folder.is_symlink() and not folder.exists():
        raise InvalidInput(
            f"output folder {folder} is a symbolic link to {os.readlink(folder)}, which does "
            "not exist",
            hint="create the folder it points to, or give another -o",
        )
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"output {folder} exists and is not a folder", hint="give another -o")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create output folder {folder}: {exc.strerror}") from None


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except OSError:
        return False


def write_rendered(
    rendered: Rendered, folder: Path, *, namespace: str, image: str, force: bool = False
) -> list[Path]:
    """Write one file per group and a kustomization listing them, so ``kubectl apply -k``.

    Files an earlier render wrote (they carry :data:`MARKER`) that this one does not write are
    removed, so a retired variant's Deployment is not applied again; other files are kept."""
    _prepare(folder)
    names = [*rendered.files, "kustomization.yaml"]
    foreign = [n for n in names if (folder / n).exists() and not _ours(folder / n)]
    if foreign and not force:
        from loopline.core.errors import Conflict

        raise Conflict(
            f"{folder} holds files that `loopline k8s render` did not write and would replace: "
            f"{', '.join(foreign)}",
            hint="render into another folder, or pass --force to replace them",
        )
    written = []
    for name, (comment, objects) in rendered.files.items():
        path = folder / name
        atomic_write_text(path, dump_objects(objects, comment))
        written.append(path)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": sorted(rendered.files),
        "images": [_image_entry(image)],
    }
    path = folder / "kustomization.yaml"
    atomic_write_text(
        path,
        f"{MARKER}\n"
        "# `kubectl apply -k .` applies everything; change the namespace or the image tag here\n"
        "# (or in an overlay that lists this folder as a resource).\n"
        + yaml.safe_dump(kustomization, sort_keys=False),
    )
    written.append(path)
    keep = {p.name for p in written}
    for stale in sorted(folder.glob("*.y*ml")):
        if stale.name not in keep and stale.is_file() and _ours(stale):
            stale.unlink()
    return written


def _image_entry(image: str) -> dict[str, str]:
    """kustomize's images entry: a digest stays a digest (``@sha256:...``), a tag a tag; a
    registry port (``host:5000/img``) is part of the name."""
    name, at, digest = image.partition("@")
    if ":" in name.split("/")[-1]:
        name, _, tag = name.rpartition(":")
    else:
        tag = ""
    if at:
        return {"name": name, "digest": digest}
    return {"name": name, "newTag": tag or "latest"}
