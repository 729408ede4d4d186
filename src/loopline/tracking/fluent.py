"""The MLflow-style fluent API: ``set_experiment``, ``start_run``, ``log_metric``, ...

The active run lives in a ``ContextVar`` (a stack, for nested runs), so threads and asyncio
tasks each see their own. Metrics go through a :class:`MetricBuffer`: ``log_metric`` returns in
microseconds and the points reach the store in batches (at ``end_run``, ``flush()``, exit, or
every second in the background).
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.tracking._validation import restore_experiment_hint
from loopline.tracking.buffer import MetricBuffer
from loopline.tracking.client import TrackingClient, make_metric
from loopline.tracking.entities import (
    DataInput,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
]

_tracking_uri: str | None = None
_experiment_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "experiment", default=None
)
_run_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "runs", default=()
)
_buffers: dict[int, MetricBuffer] = {}


def set_tracking_uri(uri: str | None) -> None:
    """Send tracking data to ``uri`` (a database URL or a folder) from now on."""
    global _tracking_uri
    _tracking_uri = uri
    _experiment_id.set(None)


def get_tracking_uri() -> str:
    """Where runs go (resolved without opening the store); outside a project with no store
    configured this says so (NotFound), rather than naming a store that would be created."""
    from loopline.tracking._uri import resolve_tracking_uri

    return resolve_tracking_uri(_tracking_uri).uri


def _client() -> TrackingClient:
    return TrackingClient.for_uri(_tracking_uri)


def _buffer(client: TrackingClient) -> MetricBuffer:
    key = id(client)
    if key not in _buffers:
        _buffers[key] = MetricBuffer(lambda run_id, batch: client.log_batch(run_id, metrics=batch))
    return _buffers[key]


class ActiveRun:
    """The run a ``with start_run():`` block logs to; ends FINISHED, or FAILED on an exception."""

    def __init__(self, run: Run, client: TrackingClient) -> None:
        self._run = run
        self._client = client

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def data(self) -> RunData:
        """The run's data as stored now (buffered metrics are flushed first)."""
        _buffer(self._client).flush()
        return self._client.get_run(self.info.run_id).data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is KeyboardInterrupt:
            status = RunStatus.KILLED
        else:
            status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        stack = _run_stack.get()
        if stack and stack[-1] is self:
            end_run(status.value)


def set_experiment(name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment (created if absent) the one new runs go to."""
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(experiment_id)
    elif name:
        found = client.get_experiment_by_name(name)
        experiment = found or client.get_experiment(client.create_experiment(name))
    else:
        raise InvalidInput("set_experiment needs a name or an experiment_id")
    if experiment.lifecycle_stage != "active":
        raise InvalidInput(
            f"experiment {experiment.name!r} is deleted",
            hint=restore_experiment_hint(experiment.name),
        )
    _experiment_id.set(experiment.experiment_id)
    return experiment


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def _current_experiment(client: TrackingClient) -> str:
    chosen = _experiment_id.get()
    if chosen is not None:
        return chosen
    env_name = os.environ.get("LOOPLINE_EXPERIMENT_NAME")
    if env_name:
        return set_experiment(env_name).experiment_id
    env_id = os.environ.get("LOOPLINE_EXPERIMENT_ID")
    if env_id:
        return client.get_experiment(env_id).experiment_id
    return client.sql.ensure_default_experiment()


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_environment: bool = True,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active; use as a context manager."""
    client = _client()
    stack = _run_stack.get()
    if stack and not nested:
        raise Conflict(
            f"run {stack[-1].info.run_id} is already active",
            hint="end it with end_run(), or pass nested=True to start a child run",
        )
    parent = stack[-1].info.run_id if stack else None
    if run_id is not None:
        run = client.get_run(run_id)
        client.update_run(run_id, status=RunStatus.RUNNING.value)
        run = client.get_run(run_id)
    else:
        all_tags = dict(tags or {})
        if description:
            all_tags["mlflow.note.content"] = description
        environment = _environment() if log_environment else None
        if environment is not None:
            all_tags = {**environment.tags(), **all_tags}
        run = client.create_run(
            experiment_id or _current_experiment(client),
            run_name=run_name,
            tags=all_tags,
            parent_run_id=parent,
        )
        if environment is not None:
            client.log_dict(run.info.run_id, environment.as_dict(), "environment.json")
    active = ActiveRun(run, client)
    _run_stack.set((*stack, active))
    return active


_environment_cache: Any = None


def _environment() -> Any:
    """The environment, captured once per process (packages and git do not change under us)."""
    global _environment_cache
    from loopline.tracking.environment import capture_environment

    if _environment_cache is None:
        _environment_cache = capture_environment()
    return _environment_cache


def active_run() -> ActiveRun | None:
    stack = _run_stack.get()
    return stack[-1] if stack else None


def end_run(status: str = "FINISHED") -> None:
    """Flush buffered metrics and end the active run with ``status``."""
    stack = _run_stack.get()
    if not stack:
        return
    run = stack[-1]
    try:
        _buffer(run._client).flush()
    finally:
        run._client.set_terminated(run.info.run_id, RunStatus(status).value)
        _run_stack.set(stack[:-1])


def _active_or_new() -> ActiveRun:
    return active_run() or start_run()


def flush() -> None:
    """Write every buffered metric now."""
    for buffer in list(_buffers.values()):
        buffer.flush()


def log_param(key: str, value: Any) -> Any:
    run = _active_or_new()
    run._client.log_batch(run.info.run_id, params=[Param(key, str(value))])
    return value


def log_params(params: dict[str, Any]) -> None:
    run = _active_or_new()
    run._client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])


def set_tag(key: str, value: Any) -> None:
    run = _active_or_new()
    run._client.log_batch(run.info.run_id, tags=[RunTag(key, str(value))])


def set_tags(tags: dict[str, Any]) -> None:
    run = _active_or_new()
    run._client.log_batch(run.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def log_metric(key: str, value: Any, step: int | None = None, timestamp: int | None = None) -> None:
    """Queue one metric point; it is written within a second, or at ``end_run``/``flush()``."""
    run = _active_or_new()
    _buffer(run._client).add(run.info.run_id, make_metric(key, value, timestamp, step))


def log_metrics(
    metrics: dict[str, Any], step: int | None = None, timestamp: int | None = None
) -> None:
    stamp = timestamp if timestamp is not None else int(time.time() * 1000)
    for key, value in metrics.items():
        log_metric(key, value, step=step, timestamp=stamp)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    run = _active_or_new()
    run._client.log_artifact(run.info.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    if not Path(local_dir).is_dir():
        raise NotFound(f"{local_dir} is not a folder", hint="log_artifacts takes a folder")
    log_artifact(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    run = _active_or_new()
    run._client.log_text(run.info.run_id, text, artifact_file)


def log_input(path: str | os.PathLike[str], context: str | None = None) -> DataInput:
    """Declare that the active run reads the data at ``path`` (MLflow's ``log_input``).

    The run's lineage records the content id of what is in the workspace now, and whether that
    is the version Loopline tracks for it (``workspace_matches``); only declared data (and a
    pipeline stage's deps) is recorded, never every dataset of the project.
    """
    run = _active_or_new()
    return run._client.log_input(run.info.run_id, path, context)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    run = _active_or_new()
    run._client.log_dict(run.info.run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a matplotlib (``savefig``) or plotly (``write_html``/``write_image``) figure."""
    import tempfile

    run = _active_or_new()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / Path(artifact_file).name
        if hasattr(figure, "savefig"):
            figure.savefig(target)
        elif artifact_file.endswith(".html") and hasattr(figure, "write_html"):
            figure.write_html(target)
        elif hasattr(figure, "write_image"):
            figure.write_image(target)
        else:
            raise InvalidInput(
                f"cannot save a {type(figure).__name__} as a figure",
                hint="pass a matplotlib Figure or a plotly Figure",
            )
        parent = str(Path(artifact_file).parent)
        run._client.log_artifact(run.info.run_id, target, None if parent == "." else parent)


def get_run(run_id: str) -> Run:
    flush()
    return _client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    flush()
    return _client().get_metric_history(run_id, key)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 1000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching an MLflow-style filter, as a pandas DataFrame or a list of ``Run``."""
    flush()
    client = _client()
    ids = list(experiment_ids or [])
    for name in experiment_names or []:
        found = client.get_experiment_by_name(name)
        if found is not None:
            ids.append(found.experiment_id)
    if not ids and not experiment_names:
        ids = [_current_experiment(client)]
    found_runs: list[Run] = []
    token: str | None = None
    while True:
        page, token = client.search_runs(
            ids, filter_string, ViewType(run_view_type), min(max_results, 50_000), order_by, token
        )
        found_runs.extend(page)
        if token is None or len(found_runs) >= max_results:
            break
    found_runs = found_runs[:max_results]
    if output_format == "list":
        return found_runs
    if output_format != "pandas":
        raise InvalidInput(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    return runs_to_dataframe(found_runs)


def runs_to_dataframe(found: list[Run]) -> Any:
    """MLflow's column layout: run_id, ..., metrics.<k>, params.<k>, tags.<k>."""
    try:
        import pandas as pd
    except ImportError:
        from loopline.core.errors import MissingExtra

        raise MissingExtra("pandas", "ml") from None
    rows = []
    for run in found:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "artifact_uri": run.info.artifact_uri,
            "start_time": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
            "end_time": pd.to_datetime(run.info.end_time, unit="ms", utc=True)
            if run.info.end_time
            else pd.NaT,
        }
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=["run_id", "experiment_id", "status"])
