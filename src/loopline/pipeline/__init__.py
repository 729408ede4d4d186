"""Pipelines: DVC's ``dvc.yaml`` stages, run only when stale, outs versioned, runs tracked.

Owns: reading ``dvc.yaml`` / ``pipeline.yaml`` (schema checks, ``vars`` and ``${}``
templating, ``foreach``/``matrix`` expansion), the stage graph, the lock file
``loopline.lock`` (what each stage last ran with and produced), change detection, the run
cache, ``repro`` with its executors (local processes, Dask), recording each stage execution
as a tracked run, and ``params``/``metrics`` comparisons. Kubeflow compilation lives in
``_kfp`` and consumes :func:`kfp_stages`.

May import: ``loopline.core``, ``loopline.objects``, ``loopline.data`` (workspace, pointers,
git) and, lazily and only when a stage runs, ``loopline.tracking``. Dask only inside
:class:`DaskExecutor` (the ``loopline[dask]`` extra).

Public names: see ``__all__``; they resolve on first use, so ``loopline status`` pays only for
what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.pipeline._changes import StageChanges
    from loopline.pipeline._commit import CommitResult, StageCommit, commit, commit_stages
    from loopline.pipeline._compare import metrics_diff, metrics_files, metrics_show, params_diff
    from loopline.pipeline._dag_view import render_dag
    from loopline.pipeline._dask import DaskExecutor
    from loopline.pipeline._executors import Executor, LocalExecutor, StageFuture
    from loopline.pipeline._kfp import KfpStage, SubmittedRun, compile_pipeline, submit_pipeline
    from loopline.pipeline._kfp_view import kfp_stages
    from loopline.pipeline._load import find_pipeline_file, load_pipeline
    from loopline.pipeline._lock import LockedPath, LockEntry, read_lock
    from loopline.pipeline._lock_pointers import lock_pointers, run_cache_oids, stage_pointers
    from loopline.pipeline._model import LOCK_NAME, Out, ParamDep, Pipeline, Stage
    from loopline.pipeline._repro import ReproResult, StageReport, repro
    from loopline.pipeline._status import (
        has_pipeline,
        stage_edits,
        stage_status,
        stage_status_as_json,
    )
    from loopline.pipeline._task import StageOutcome, StageTask, run_stage_task

_LAZY = {
    "StageChanges": "loopline.pipeline._changes",
    "CommitResult": "loopline.pipeline._commit",
    "StageCommit": "loopline.pipeline._commit",
    "commit": "loopline.pipeline._commit",
    "commit_stages": "loopline.pipeline._commit",
    "metrics_diff": "loopline.pipeline._compare",
    "metrics_files": "loopline.pipeline._compare",
    "metrics_show": "loopline.pipeline._compare",
    "params_diff": "loopline.pipeline._compare",
    "render_dag": "loopline.pipeline._dag_view",
    "DaskExecutor": "loopline.pipeline._dask",
    "Executor": "loopline.pipeline._executors",
    "LocalExecutor": "loopline.pipeline._executors",
    "StageFuture": "loopline.pipeline._executors",
    "KfpStage": "loopline.pipeline._kfp",
    "SubmittedRun": "loopline.pipeline._kfp",
    "compile_pipeline": "loopline.pipeline._kfp",
    "submit_pipeline": "loopline.pipeline._kfp",
    "kfp_stages": "loopline.pipeline._kfp_view",
    "find_pipeline_file": "loopline.pipeline._load",
    "load_pipeline": "loopline.pipeline._load",
    "LockEntry": "loopline.pipeline._lock",
    "LockedPath": "loopline.pipeline._lock",
    "read_lock": "loopline.pipeline._lock",
    "lock_pointers": "loopline.pipeline._lock_pointers",
    "run_cache_oids": "loopline.pipeline._lock_pointers",
    "stage_pointers": "loopline.pipeline._lock_pointers",
    "LOCK_NAME": "loopline.pipeline._model",
    "Out": "loopline.pipeline._model",
    "ParamDep": "loopline.pipeline._model",
    "Pipeline": "loopline.pipeline._model",
    "Stage": "loopline.pipeline._model",
    "ReproResult": "loopline.pipeline._repro",
    "StageReport": "loopline.pipeline._repro",
    "repro": "loopline.pipeline._repro",
    "has_pipeline": "loopline.pipeline._status",
    "stage_edits": "loopline.pipeline._status",
    "stage_status": "loopline.pipeline._status",
    "stage_status_as_json": "loopline.pipeline._status",
    "StageOutcome": "loopline.pipeline._task",
    "StageTask": "loopline.pipeline._task",
    "run_stage_task": "loopline.pipeline._task",
}

__all__ = [
    "LOCK_NAME",
    "CommitResult",
    "DaskExecutor",
    "Executor",
    "KfpStage",
    "LocalExecutor",
    "LockEntry",
    "LockedPath",
    "Out",
    "ParamDep",
    "Pipeline",
    "ReproResult",
    "Stage",
    "StageChanges",
    "StageCommit",
    "StageFuture",
    "StageOutcome",
    "StageReport",
    "StageTask",
    "SubmittedRun",
    "commit",
    "commit_stages",
    "compile_pipeline",
    "find_pipeline_file",
    "has_pipeline",
    "kfp_stages",
    "load_pipeline",
    "lock_pointers",
    "metrics_diff",
    "metrics_files",
    "metrics_show",
    "params_diff",
    "read_lock",
    "render_dag",
    "repro",
    "run_cache_oids",
    "run_stage_task",
    "stage_edits",
    "stage_pointers",
    "stage_status",
    "stage_status_as_json",
    "submit_pipeline",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
