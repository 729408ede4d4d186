"""The model registry: registered models, numbered versions, aliases, tags, lineage.

Owns: registry records (queries over its tables), ``models:/`` URI resolution to a model folder,
and lineage from a version to its run, data, code commit and environment.

May import: ``loopline.core``, ``loopline.store``, ``loopline.tracking`` (runs and artifacts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.registry.api import RegistryClient, lineage, register_model, resolve_model_uri
    from loopline.registry.entities import Lineage, ModelVersion, RegisteredModel

_LAZY = {
    "Lineage": "loopline.registry.entities",
    "ModelVersion": "loopline.registry.entities",
    "RegisteredModel": "loopline.registry.entities",
    "RegistryClient": "loopline.registry.api",
    "lineage": "loopline.registry.api",
    "register_model": "loopline.registry.api",
    "resolve_model_uri": "loopline.registry.api",
}

__all__ = [
    "Lineage",
    "ModelVersion",
    "RegisteredModel",
    "RegistryClient",
    "lineage",
    "register_model",
    "resolve_model_uri",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
