"""Kubernetes: a deployment rendered as reviewable manifests (per-variant Deployment, Service,
HPA and PodDisruptionBudget, the tracking server, the rollout controller with its RBAC, Istio
routing), the serving image's Dockerfile, and server-side apply through the ``kubernetes`` client.

May import: ``loopline.core``, ``loopline.rollout`` (deployments, Istio objects). The
``kubernetes`` client is imported only when objects are built or applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.deploy.apply import apply_objects, load_objects
    from loopline.deploy.dockerfile import dockerfile
    from loopline.deploy.files import write_rendered
    from loopline.deploy.manifests import RenderOptions, render_objects

_LAZY = {
    "RenderOptions": "loopline.deploy.manifests",
    "apply_objects": "loopline.deploy.apply",
    "dockerfile": "loopline.deploy.dockerfile",
    "load_objects": "loopline.deploy.apply",
    "render_objects": "loopline.deploy.manifests",
    "write_rendered": "loopline.deploy.files",
}

__all__ = [
    "RenderOptions",
    "apply_objects",
    "dockerfile",
    "load_objects",
    "render_objects",
    "write_rendered",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
