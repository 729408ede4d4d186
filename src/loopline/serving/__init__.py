"""Model serving: the inference ASGI app and what it needs on the hot path.

Owns: the KServe V2, TF-Serving and MLflow scoring protocols (``protocols/``), input checks
against the model's signature, adaptive batching, loading and hot-reloading model versions,
Prometheus metrics, the sampled inference log and ground-truth feedback, and running the app
in N worker processes.

May import: ``loopline.core``, ``loopline.models`` (loading), ``loopline.registry`` (resolving
``models:/`` URIs). Never ``pipeline``, ``server`` or ``cli``: a worker starts fast and its hot
path stays short. NumPy, orjson, prometheus_client and pyarrow (the ``serve`` extra) are loaded
only when the app is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.serving.app import InferenceApp, create_app
    from loopline.serving.inference_log import (
        FeedbackEntry,
        read_feedback,
        read_inference_log,
        record_feedback,
        write_feedback,
    )
    from loopline.serving.runner import serve
    from loopline.serving.settings import ModelSpec, ServeSettings, VersionPolicy

_LAZY = {
    "FeedbackEntry": "loopline.serving.inference_log",
    "InferenceApp": "loopline.serving.app",
    "ModelSpec": "loopline.serving.settings",
    "ServeSettings": "loopline.serving.settings",
    "VersionPolicy": "loopline.serving.settings",
    "create_app": "loopline.serving.app",
    "read_feedback": "loopline.serving.inference_log",
    "read_inference_log": "loopline.serving.inference_log",
    "record_feedback": "loopline.serving.inference_log",
    "serve": "loopline.serving.runner",
    "write_feedback": "loopline.serving.inference_log",
}

__all__ = [
    "FeedbackEntry",
    "InferenceApp",
    "ModelSpec",
    "ServeSettings",
    "VersionPolicy",
    "create_app",
    "read_feedback",
    "read_inference_log",
    "record_feedback",
    "serve",
    "write_feedback",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
