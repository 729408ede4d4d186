"""Model packaging: the MLflow-format model folder (``MLmodel``), signatures, flavours.

Owns: ``MLmodel`` reading and writing, signature inference, the scikit-learn flavour (skops by
default, pickle only when trusted), ``pyfunc`` loading and autolog.

May import: ``loopline.core``, ``loopline.tracking`` (to log into runs), ``loopline.registry``
(to resolve ``models:/`` URIs and register). scikit-learn, skops, NumPy and pandas only inside
the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.models.mlmodel import ModelMeta
    from loopline.models.signature import ColSpec, ModelSignature, TensorSpec, infer_signature

_LAZY = {
    "ColSpec": "loopline.models.signature",
    "ModelMeta": "loopline.models.mlmodel",
    "ModelSignature": "loopline.models.signature",
    "TensorSpec": "loopline.models.signature",
    "infer_signature": "loopline.models.signature",
}

__all__ = ["ColSpec", "ModelMeta", "ModelSignature", "TensorSpec", "infer_signature"]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
