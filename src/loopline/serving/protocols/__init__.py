"""The inference protocols, each a pair of pure functions per endpoint: decode a request body
into rows for the model's input schema, and encode the model's outputs as that protocol's reply.

- ``v2``: KServe V2 / Open Inference Protocol (REST)
- ``tfserving``: TensorFlow Serving REST ``:predict`` and model status
- ``mlflow``: MLflow's scoring server (``/invocations``)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Decoded"]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A request ready for the batcher: rows in schema order and the outputs it asked for."""

    values: np.ndarray
    wanted: tuple[str, ...] = ("predict",)
    request_id: str | None = None
    reply_key: str = ""  # TF-Serving answers "predictions" or "outputs" by request format
