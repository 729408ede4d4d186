"""Recording stage executions as tracked runs: one parent run per ``repro``, one child per stage.

Each child run holds the stage's param values, the metrics its metrics files hold, the content
ids of its deps and outs (as data inputs and tags), its duration, exit status and the tail of
its log. Writing happens on a background thread, so the tracking store (SQLAlchemy) is opened
while the first command runs, and a no-op ``repro`` never imports it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopline.pipeline._lock import LockedPath

__all__ = ["EXPERIMENT", "RunRecorder", "StageRecord"]

log = logging.getLogger(__name__)
EXPERIMENT = "pipeline"


@dataclass(frozen=True)
class StageRecord:
    stage: str
    cmd: str
    status: str  # FINISHED or FAILED
    start_ms: int
    end_ms: int
    exit_code: int
    log_tail: str
    host: str
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    deps: tuple[LockedPath, ...] = ()
    outs: tuple[LockedPath, ...] = ()


class RunRecorder:
    """Queues records and writes them on one thread; :meth:`close` waits for the writes."""

    def __init__(self, root: Path, pipeline_file: str, targets: list[str]) -> None:
        self.root = root
        self.pipeline_file = pipeline_file
        self.targets = targets
        self.parent_run_id: str | None = None
        self.error: str | None = None
        self._queue: queue.Queue[StageRecord | str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> None:
        """Begin opening the store (called when the first stage is about to run)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="run-recorder", daemon=True)
            self._thread.start()

    def record(self, record: StageRecord) -> None:
        self.start()
        self._queue.put(record)

    def close(self, status: str = "FINISHED") -> str | None:
        """End the parent run with ``status``; returns its id (None if nothing ran)."""
        if self._thread is None:
            return None
        self._queue.put(status)
        self._queue.put(None)
        self._thread.join()
        if self.error:
            log.warning("tracking runs were not fully recorded: %s", self.error)
        return self.parent_run_id

    def _work(self) -> None:
        client: Any = None
        experiment_id = ""
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if client is None:
                    client, experiment_id = self._open()
                if isinstance(item, str):
                    client.set_terminated(self.parent_run_id, item)
                else:
                    _write_stage(client, experiment_id, self.parent_run_id, item)
            except Exception as exc:  # tracking must never lose a pipeline's results
                self.error = f"{type(exc).__name__}: {exc}"

    def _open(self) -> tuple[Any, str]:
        import os

        from loopline.core.config import load_settings
        from loopline.tracking.client import TrackingClient

        uri = os.environ.get("LOOPLINE_TRACKING_URI") or load_settings(self.root).store_url
        client = TrackingClient(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
        )
        tags = {
            "loopline.pipeline": self.pipeline_file,
            "loopline.targets": " ".join(self.targets) or "(all)",
            "mlflow.source.type": "PIPELINE",
        }
        parent = client.create_run(experiment_id, run_name="repro", tags=tags)
        self.parent_run_id = parent.info.run_id
        return client, experiment_id


def _write_stage(client: Any, experiment_id: str, parent: str | None, rec: StageRecord) -> None:
    from loopline.tracking.client import make_metric
    from loopline.tracking.entities import DataInput, Param, RunTag

    tags = {
        "loopline.stage": rec.stage,
        "loopline.cmd": rec.cmd[:5000],
        "loopline.exit_code": str(rec.exit_code),
        "loopline.host": rec.host,
    }
    run = client.create_run(
        experiment_id,
        run_name=rec.stage,
        tags=tags,
        start_time=rec.start_ms,
        parent_run_id=parent,
    )
    run_id = run.info.run_id
    params = _params(rec.params)
    metrics = [make_metric(k, v, rec.end_ms) for k, v in rec.metrics.items()]
    metrics.append(make_metric("duration_s", (rec.end_ms - rec.start_ms) / 1000, rec.end_ms))
    path_tags = [RunTag(f"loopline.dep.{d.path}", d.oid) for d in rec.deps]
    path_tags += [RunTag(f"loopline.out.{o.path}", o.oid) for o in rec.outs]
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(k, v) for k, v in params.items()],
        tags=[t for t in path_tags if len(t.key) <= 250],
    )
    if rec.deps:
        client.log_inputs(run_id, [DataInput(d.path, d.oid) for d in rec.deps])
    client.log_text(run_id, rec.log_tail + "\n", "stage.log")
    client.set_terminated(run_id, rec.status, rec.end_ms)


def _params(by_file: dict[str, dict[str, Any]]) -> dict[str, str]:
    from loopline.pipeline._params import flatten

    flat: dict[str, str] = {}
    for file, values in by_file.items():
        for key, value in flatten(values).items():
            name = key if file.endswith("params.yaml") and key not in flat else f"{file}:{key}"
            flat[name] = str(value)[:6000]
    return flat


def now_ms() -> int:
    return int(time.time() * 1000)
