"""Recording stage executions as tracked runs: one parent run per ``repro``, one child per stage.

Each child run holds the stage's param values, the metrics its metrics files hold, the content
ids of its deps and outs (as data inputs and tags), its duration, exit status and the tail of
its log. The writing happens in a helper process (``python -m loopline.pipeline._record``) fed
one JSON line per stage: it opens the tracking store (SQLAlchemy) while the first command runs,
in parallel rather than competing for the interpreter lock, and a no-op ``repro`` never starts
it. If ``repro`` dies, the helper sees its input end and closes the parent run as KILLED.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageRecord:
        deps = tuple(LockedPath(**p) for p in data.pop("deps"))
        outs = tuple(LockedPath(**p) for p in data.pop("outs"))
        return cls(**data, deps=deps, outs=outs)


class RunRecorder:
    """Sends records to the helper process; :meth:`close` waits until they are written."""

    def __init__(self, root: Path, pipeline_file: str, targets: list[str]) -> None:
        self.root = root
        self.pipeline_file = pipeline_file
        self.targets = targets
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the helper (called when the first stage is about to run)."""
        if self._proc is None:
            args = [self.pipeline_file, json.dumps(self.targets)]
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "loopline.pipeline._record", *args],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C stops repro, not the run's bookkeeping
            )

    def record(self, record: StageRecord) -> None:
        self.start()
        self._send(asdict(record))

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message, default=str) + "\n")
            self._proc.stdin.flush()
        except OSError as exc:  # the helper died; its stderr says why at close
            log.warning("tracking helper is gone: %s", exc)

    def close(self, status: str = "FINISHED") -> str | None:
        """End the parent run with ``status``; returns its id (None if nothing ran)."""
        if self._proc is None:
            return None
        self._send({"end": status})
        out, err = self._proc.communicate(timeout=300)
        if self._proc.returncode != 0 or err.strip():
            tail = err.strip().splitlines()[-1:] or [f"exit code {self._proc.returncode}"]
            log.warning("tracking runs were not fully recorded: %s", tail[0])
        lines = out.split()
        return lines[0] if lines else None


def _open(root: Path, pipeline_file: str, targets: list[str]) -> tuple[Any, str, str]:
    import os

    from loopline.core.config import load_settings
    from loopline.tracking.client import TrackingClient

    uri = os.environ.get("LOOPLINE_TRACKING_URI") or load_settings(root).store_url
    client = TrackingClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    tags = {
        "loopline.pipeline": pipeline_file,
        "loopline.targets": " ".join(targets) or "(all)",
        "mlflow.source.type": "PIPELINE",
    }
    parent = client.create_run(experiment_id, run_name="repro", tags=tags)
    return client, experiment_id, parent.info.run_id


def _serve(pipeline_file: str, targets: list[str]) -> int:
    """The helper: write each stage record read from stdin, then end the parent run."""
    client, experiment_id, parent = _open(Path.cwd(), pipeline_file, targets)
    print(parent, flush=True)
    status, failures = "KILLED", 0
    for line in sys.stdin:
        message = json.loads(line)
        if "end" in message:
            status = message["end"]
            break
        try:
            _write_stage(client, experiment_id, parent, StageRecord.from_json(message))
        except Exception as exc:  # one bad record must not lose the others
            failures += 1
            print(f"stage {message.get('stage')}: {type(exc).__name__}: {exc}", file=sys.stderr)
    client.set_terminated(parent, status)
    return 1 if failures else 0


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


if __name__ == "__main__":
    from loopline.core.errors import LooplineError

    try:
        sys.exit(_serve(sys.argv[1], json.loads(sys.argv[2])))
    except LooplineError as exc:  # one line with the cause: repro shows it as its warning
        print(exc, file=sys.stderr)
        sys.exit(1)
