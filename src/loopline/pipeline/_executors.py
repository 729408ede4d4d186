"""Where stage commands run: the ``Executor`` protocol and its local implementation.

An executor accepts :class:`StageTask` values and hands back futures of
:class:`StageOutcome`; the driver in :mod:`._repro` decides what runs and records results, so
executors stay small. Local: a pool of ``jobs`` threads, each waiting on its stage's own
process. Dask: :mod:`._dask`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from loopline.pipeline._task import (
    StageOutcome,
    StageTask,
    run_stage_task,
    stop_running_commands,
)

__all__ = ["Executor", "LocalExecutor", "StageFuture"]


class StageFuture(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None: ...


class Executor(Protocol):
    """Runs stage tasks; ``slots`` is how many may run at once."""

    name: str
    slots: int
    #: True when tasks run away from the workspace (deps and outs travel through a remote).
    through_remote: bool

    def submit(self, task: StageTask) -> StageFuture: ...

    def close(self, *, cancel: bool = False) -> None:
        """Release the workers; ``cancel`` stops tasks still running (after Ctrl-C)."""


class LocalExecutor:
    name = "local"
    through_remote = False

    def __init__(self, jobs: int = 1, echo: Callable[[str], None] | None = None) -> None:
        self.slots = max(1, jobs)
        self._echo = echo
        self._pool: Any = None  # started on the first task: a no-op repro never needs it
        self._print = threading.Lock()
        self._cancel = threading.Event()

    def submit(self, task: StageTask) -> StageFuture:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="stage")
        future: StageFuture = self._pool.submit(
            run_stage_task, task, self._line_printer(task.name), self._cancel
        )
        return future

    def _line_printer(self, stage: str) -> Callable[[str], None] | None:
        echo = self._echo
        if echo is None:
            return None
        prefix = f"[{stage}] " if self.slots > 1 else ""

        def on_line(line: str) -> None:
            with self._print:
                echo(prefix + line)

        return on_line

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self._cancel.set()  # before the stop: a command starting now stops itself
            stop_running_commands()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def outcome_of(future: StageFuture, task: StageTask) -> StageOutcome:
    """The outcome, or a failed one carrying the error if the executor itself failed."""
    try:
        outcome = future.result()
    except Exception as exc:  # a worker died, the cluster went away, ...
        return StageOutcome(task.name, 1, 0.0, f"{type(exc).__name__}: {exc}", "?")
    assert isinstance(outcome, StageOutcome)
    return outcome
