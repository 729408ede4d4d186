"""The two small protocols a tracking client talks to: where records go (a SQL database or a
tracking server) and where a run's artifact files go (a folder, an fsspec URL, or a proxy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from loopline.tracking.artifacts import ArtifactInfo
from loopline.tracking.entities import (
    DataInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

__all__ = ["ArtifactStore", "TrackingBackend"]


class TrackingBackend(Protocol):
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    def ensure_default_experiment(self) -> str: ...

    def get_experiment(self, experiment_id: str | int) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]: ...

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    def create_run(
        self,
        experiment_id: str,
        *,
        user_id: str = "",
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Sequence[RunTag] = (),
        parent_run_id: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def artifact_uri(self, run_id: str) -> str: ...

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics_: Sequence[Metric] = (),
        params_: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    def log_inputs(self, run_id: str, inputs: Iterable[DataInput]) -> None: ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]: ...


class ArtifactStore(Protocol):
    root_uri: str

    def write_bytes(self, artifact_path: str, data: bytes) -> None: ...

    def read_bytes(self, artifact_path: str) -> bytes: ...

    def log_file(self, local_file: Path, artifact_path: str | None = None) -> str: ...

    def log_dir(self, local_dir: Path, artifact_path: str | None = None) -> list[str]: ...

    def list_artifacts(self, artifact_path: str | None = None) -> list[ArtifactInfo]: ...

    def download(self, artifact_path: str | None, destination: Path) -> Path: ...
