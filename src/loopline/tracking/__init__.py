"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts, environment capture.

Owns: the fluent API (``set_experiment``, ``start_run``, ``log_metric``, ...; active run in a
``ContextVar``), ``TrackingClient``, buffered metric logging, MLflow's search grammar, the
artifact repository of a run, and the queries over the tracking tables.

May import: ``loopline.core``, ``loopline.store``, ``loopline.data`` and ``loopline.objects``
(pointer files and the state cache, to hash the data a run declares with ``log_input``).
pandas only when a DataFrame is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.tracking.client import TrackingClient
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
    from loopline.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        get_experiment_by_name,
        get_metric_history,
        get_run,
        get_tracking_uri,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )

_LAZY = {
    "ActiveRun": "loopline.tracking.fluent",
    "active_run": "loopline.tracking.fluent",
    "end_run": "loopline.tracking.fluent",
    "flush": "loopline.tracking.fluent",
    "get_experiment_by_name": "loopline.tracking.fluent",
    "get_metric_history": "loopline.tracking.fluent",
    "get_run": "loopline.tracking.fluent",
    "get_tracking_uri": "loopline.tracking.fluent",
    "log_artifact": "loopline.tracking.fluent",
    "log_input": "loopline.tracking.fluent",
    "log_artifacts": "loopline.tracking.fluent",
    "log_dict": "loopline.tracking.fluent",
    "log_figure": "loopline.tracking.fluent",
    "log_metric": "loopline.tracking.fluent",
    "log_metrics": "loopline.tracking.fluent",
    "log_param": "loopline.tracking.fluent",
    "log_params": "loopline.tracking.fluent",
    "log_text": "loopline.tracking.fluent",
    "search_runs": "loopline.tracking.fluent",
    "set_experiment": "loopline.tracking.fluent",
    "set_tag": "loopline.tracking.fluent",
    "set_tags": "loopline.tracking.fluent",
    "set_tracking_uri": "loopline.tracking.fluent",
    "start_run": "loopline.tracking.fluent",
    "DataInput": "loopline.tracking.entities",
    "Experiment": "loopline.tracking.entities",
    "Metric": "loopline.tracking.entities",
    "Param": "loopline.tracking.entities",
    "Run": "loopline.tracking.entities",
    "RunData": "loopline.tracking.entities",
    "RunInfo": "loopline.tracking.entities",
    "RunStatus": "loopline.tracking.entities",
    "RunTag": "loopline.tracking.entities",
    "ViewType": "loopline.tracking.entities",
    "TrackingClient": "loopline.tracking.client",
}

__all__ = [
    "ActiveRun",
    "DataInput",
    "Experiment",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "TrackingClient",
    "ViewType",
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
    "start_run",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
