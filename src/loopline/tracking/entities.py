"""Experiments, runs and what a run records, shaped as MLflow users know them.

``run.info.run_id``, ``run.data.metrics["accuracy"]``, ``run.data.params["lr"]`` read the same
as in MLflow, so habits and snippets carry over.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "DataInput",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
]


class RunStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(enum.StrEnum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)


class Metric(NamedTuple):
    """One point; a NamedTuple because histories hold tens of thousands of them."""

    key: str
    value: float
    timestamp: int  # milliseconds since the epoch
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class DataInput:
    """A data path and the content version the run read.

    ``workspace_matches`` says whether the workspace held the version Loopline tracks for the
    path (its pointer file or the pipeline lock) when the run declared it: False means the run
    read edited, un-added data; None means not known (untracked data, older runs).
    """

    path: str
    oid: str
    workspace_matches: bool | None = None
    context: str | None = None  # what the run used it for, e.g. "training" (MLflow's context)


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData:
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value per key
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    metric_entries: tuple[Metric, ...] = ()  # the latest entries, with step and timestamp


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: tuple[DataInput, ...] = ()
