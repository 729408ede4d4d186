"""Registered models and their versions, shaped as MLflow's registry returns them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Lineage", "ModelVersion", "RegisteredModel"]


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    run_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    current_stage: str = "None"
    description: str | None = None
    model_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)  # alias -> version
    latest_versions: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True)
class Lineage:
    """Where a model version came from: its run, the data and code it saw, its environment."""

    model_version: ModelVersion
    run_id: str | None
    experiment_id: str | None
    run_name: str | None
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    data: tuple[tuple[str, str], ...]  # (path, content id)
    git_commit: str | None
    git_dirty: bool | None
    python: str | None
    source: str
