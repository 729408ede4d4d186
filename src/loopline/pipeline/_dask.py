"""Running stages as tasks on a Dask distributed cluster (the ``loopline[dask]`` extra).

Given a scheduler address, tasks go to that cluster; otherwise a local cluster of two
single-threaded workers is started for the run and stopped after it. ``through_remote``
makes every task fetch its deps from the configured remote and push its outs there, so a
worker on another machine needs no shared filesystem.
"""

from __future__ import annotations

from typing import Any

from loopline.core.config import RemoteConfig
from loopline.core.errors import MissingExtra, RemoteError
from loopline.pipeline._executors import StageFuture
from loopline.pipeline._task import StageTask, run_stage_task

__all__ = ["DaskExecutor"]


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtra("distributed", "dask") from None
    return distributed


class DaskExecutor:
    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        remote: RemoteConfig | None = None,
        n_workers: int = 2,
    ) -> None:
        distributed = _import_distributed()
        self.remote = remote
        self.through_remote = remote is not None
        self._cluster: Any = None
        self._futures: list[Any] = []
        try:
            if scheduler:
                self._client = distributed.Client(scheduler, timeout="10s")
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    processes=True,
                )
                self._client = distributed.Client(self._cluster)
        except OSError as exc:
            raise RemoteError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                hint="check the address (tcp://HOST:8786) and that the scheduler is running",
            ) from None
        workers = self._client.scheduler_info().get("workers", {})
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def submit(self, task: StageTask) -> StageFuture:
        if self.remote is not None:
            from dataclasses import replace

            task = replace(task, remote=self.remote)
        future = self._client.submit(run_stage_task, task, pure=False, key=_key(task))
        self._futures.append(future)
        return future  # type: ignore[no-any-return]

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self._client.cancel(self._futures, force=True)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _key(task: StageTask) -> str:
    import uuid

    return f"stage-{task.name}-{uuid.uuid4().hex[:8]}"
