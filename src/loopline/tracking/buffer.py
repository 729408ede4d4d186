"""Metric logging that costs microseconds: points queue in memory and a background thread
writes them in batches (every ``flush_interval`` seconds, or sooner when ``batch_size`` points
wait). ``flush()`` waits for everything queued so far; ``end_run`` and interpreter exit flush.
Points of one key keep the order they were logged in.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from loopline.tracking.entities import Metric

__all__ = ["MetricBuffer"]

log = logging.getLogger(__name__)
_live: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class _Point:
    run_id: str
    metric: Metric


class MetricBuffer:
    def __init__(
        self,
        write: Callable[[str, list[Metric]], None],
        *,
        flush_interval: float = 1.0,
        batch_size: int = 5000,
    ) -> None:
        self._write = write
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._points: list[_Point] = []
        self._cond = threading.Condition()
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        _live.add(self)

    def add(self, run_id: str, metric: Metric) -> None:
        self._raise_pending_error()
        with self._cond:
            self._points.append(_Point(run_id, metric))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="loopline-metric-flush", daemon=True
                )
                self._thread.start()
            if len(self._points) >= self._batch_size:
                self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._points and not self._closed:
                    self._cond.wait(self._flush_interval)
                if self._closed and not self._points:
                    return
            try:
                self._drain()
            except BaseException as exc:  # reported to the logging thread on its next call
                log.error("writing buffered metrics failed: %s", exc)
                self._error = exc
                with self._cond:
                    self._cond.wait(self._flush_interval)

    def _drain(self) -> None:
        with self._writing:
            with self._cond:
                points, self._points = self._points, []
            by_run: dict[str, list[Metric]] = {}
            for p in points:
                by_run.setdefault(p.run_id, []).append(p.metric)
            try:
                for run_id, batch in by_run.items():
                    self._write(run_id, batch)
            except BaseException:
                with self._cond:  # put them back in front, in order, for the next attempt
                    self._points[:0] = points
                raise

    def flush(self) -> None:
        """Write everything logged so far; raises if the store refused it."""
        self._drain()
        self._raise_pending_error()

    def _raise_pending_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify()

    @property
    def pending(self) -> int:
        return len(self._points)


@atexit.register
def _flush_all_at_exit() -> None:
    for buffer in list(_live):
        try:
            buffer.flush()
        except Exception as exc:
            log.error("metrics logged before exit could not be written: %s", exc)
