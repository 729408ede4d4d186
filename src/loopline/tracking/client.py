"""``TrackingClient``: explicit, stateless access to experiments and runs (MLflow's MlflowClient).

The fluent functions in :mod:`loopline.tracking.fluent` are a thin layer over it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopline.core.errors import NotFound
from loopline.tracking._backend import ArtifactStore, TrackingBackend
from loopline.tracking._sql_store import SqlTrackingStore
from loopline.tracking._uri import TrackingTarget, resolve_tracking_uri
from loopline.tracking._validation import (
    check_key,
    check_param_value,
    check_tag_value,
    metric_value,
)
from loopline.tracking.artifacts import PROXY_SCHEME, ArtifactInfo, ArtifactRepository
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

if TYPE_CHECKING:
    from loopline.tracking._rest import RestSession

__all__ = ["GIT_DIRTY_TAG", "TrackingClient"]

GIT_DIRTY_TAG = "loopline.git.dirty"

_clients: dict[str, TrackingClient] = {}


def _ms() -> int:
    return int(time.time() * 1000)


class TrackingClient:
    def __init__(self, tracking_uri: str | None = None) -> None:
        self.target: TrackingTarget = resolve_tracking_uri(tracking_uri)
        self._session: RestSession | None = None
        self._sql: TrackingBackend
        if self.target.server_url:
            # The REST client (http.client, ssl) is imported only for a tracking server.
            from loopline.tracking._rest import RestSession
            from loopline.tracking._rest_store import RestTrackingStore

            self._session = RestSession(
                self.target.server_url, os.environ.get("LOOPLINE_TRACKING_TOKEN")
            )
            self._sql = RestTrackingStore(self._session)
        else:
            from loopline.store import open_store

            self._sql = SqlTrackingStore(
                open_store(self.target.store_url), self.target.artifact_root
            )

    @classmethod
    def for_uri(cls, tracking_uri: str | None = None) -> TrackingClient:
        """One shared client per resolved store, so a process opens each store once."""
        target = resolve_tracking_uri(tracking_uri)
        key = f"{target.store_url}|{target.artifact_root}"
        if key not in _clients:
            _clients[key] = cls(tracking_uri)
        return _clients[key]

    @property
    def sql(self) -> TrackingBackend:
        """The backend: the SQL store, or the REST store of a tracking server."""
        return self._sql

    @property
    def session(self) -> RestSession | None:
        return self._session

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        return self._sql.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._sql.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._sql.get_experiment_by_name(name)

    def search_experiments(self, view_type: ViewType = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        self._sql.ensure_default_experiment()
        return self._sql.search_experiments(view_type)

    def find_experiment(self, name_or_id: str) -> Experiment:
        """The experiment named ``name_or_id``, else the one with that id; deleted ones too."""
        self._sql.ensure_default_experiment()
        found = self._sql.get_experiment_by_name(name_or_id)
        if found is not None:
            return found
        if name_or_id.strip().isdigit():
            return self._sql.get_experiment(name_or_id.strip())
        raise NotFound(
            f"experiment {name_or_id!r} does not exist (no experiment has that name or id)",
            hint="list experiments, deleted ones too, with `loopline experiments list --all`",
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._sql.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._sql.set_experiment_lifecycle(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._sql.set_experiment_lifecycle(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._sql.set_experiment_tag(
            experiment_id, check_key("tag", key), check_tag_value(key, value)
        )

    # -- runs -----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        import getpass

        tag_list = [
            RunTag(check_key("tag", k), check_tag_value(k, v)) for k, v in (tags or {}).items()
        ]
        if parent_run_id:
            tag_list.append(RunTag("mlflow.parentRunId", parent_run_id))
        return self._sql.create_run(
            experiment_id,
            user_id=user_id if user_id is not None else getpass.getuser(),
            start_time=start_time,
            run_name=run_name,
            tags=tag_list,
            parent_run_id=parent_run_id,
        )

    def get_run(self, run_id: str) -> Run:
        return self._sql.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        self._sql.update_run(run_id, status=RunStatus(status), end_time=end_time or _ms())

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> RunInfo:
        return self._sql.update_run(
            run_id, status=RunStatus(status) if status else None, run_name=name
        )

    def delete_run(self, run_id: str) -> None:
        self._sql.set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._sql.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    # -- logging --------------------------------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, params=[Param(key, str(value))])

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        self.log_batch(run_id, metrics=[make_metric(key, value, timestamp, step)])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key, str(value))])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        checked_params = [
            Param(check_key("param", p.key), check_param_value(p.key, p.value)) for p in params
        ]
        checked_tags = [
            RunTag(check_key("tag", t.key), check_tag_value(t.key, t.value)) for t in tags
        ]
        for key in {m.key for m in metrics}:
            check_key("metric", key)
        self._sql.log_batch(run_id, metrics, checked_params, checked_tags)

    def log_inputs(self, run_id: str, inputs: Iterable[DataInput]) -> None:
        self._sql.log_inputs(run_id, inputs)

    def log_input(
        self, run_id: str, path: str | os.PathLike[str], context: str | None = None
    ) -> DataInput:
        """Record that the run read ``path``, as the workspace holds it now (see
        :mod:`loopline.tracking.inputs`); returns what was recorded."""
        from loopline.tracking.inputs import INPUTS_TAG, inputs_tag_value, inspect_input

        data, tracked_oid = inspect_input(path, context)
        tags = self._sql.get_run(run_id).data.tags
        new_tags = [
            RunTag(INPUTS_TAG, inputs_tag_value(tags.get(INPUTS_TAG), [(data, tracked_oid)]))
        ]
        if data.workspace_matches is False and "mlflow.source.git.commit" in tags:
            # The commit names other data than the run read: it does not reproduce the run.
            new_tags.append(RunTag(GIT_DIRTY_TAG, "true"))
        self.log_batch(run_id, tags=new_tags)  # checked first: nothing is half-recorded
        self._sql.log_inputs(run_id, [data])
        return data

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._sql.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        return self._sql.search_runs(
            experiment_ids,
            filter_string,
            ViewType(run_view_type),
            max_results,
            order_by,
            page_token,
        )

    # -- artifacts ------------------------------------------------------------------------
    def artifacts(self, run_id: str) -> ArtifactStore:
        return self.artifacts_at(self._sql.artifact_uri(run_id))

    def artifacts_at(self, uri: str) -> ArtifactStore:
        """The repository at an artifact URI (through the server's proxy when there is one)."""
        if self._session is not None and uri.startswith(PROXY_SCHEME):
            from loopline.tracking._http_artifacts import HttpArtifactRepository

            return HttpArtifactRepository(self._session, uri)
        return ArtifactRepository(uri, self.target.artifact_root or None)

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        path = Path(local_path)
        if not path.exists():
            raise NotFound(f"{local_path} does not exist", hint="check the path of the artifact")
        repo = self.artifacts(run_id)
        if path.is_dir():
            repo.log_dir(path, artifact_path)
        else:
            repo.log_file(path, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.artifacts(run_id).write_bytes(artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, data: Any, artifact_file: str) -> None:
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(data, sort_keys=False)
        else:
            text = json.dumps(data, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[ArtifactInfo]:
        return self.artifacts(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | Path) -> Path:
        return self.artifacts(run_id).download(path, Path(dst_path))


def make_metric(
    key: str, value: Any, timestamp: int | None = None, step: int | None = None
) -> Metric:
    check_key("metric", key)
    return Metric(
        key, metric_value(key, value), timestamp if timestamp is not None else _ms(), int(step or 0)
    )
