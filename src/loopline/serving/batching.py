"""Adaptive batching: concurrent requests for one model version become one ``predict`` call.

One predict runs at a time per model version, in a dedicated thread fed by a
``queue.SimpleQueue`` (CPU work stays off the event loop; no executor future per batch), which
hands results back with one ``call_soon_threadsafe`` per batch. Requests that arrive while it
runs queue up and form the next batch, so batches
grow with load and a lone request on an idle server is dispatched at once. When the model is
idle but other requests are still being read off the wire, the batcher waits for them, at most
``max_delay_s``. The queue is bounded in rows: beyond it a request is refused (HTTP 503) instead
of letting memory grow without limit. A request larger than ``max_batch_size`` is one batch of
its own, admitted whenever a batch fits in the queue: its size alone never refuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput, LooplineError
from loopline.serving.model import ServedModel

__all__ = ["BatchStats", "Batcher", "Overloaded", "Prediction"]

log = logging.getLogger(__name__)


class Overloaded(LooplineError):
    """The model's queue is full; the client should retry shortly (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class Prediction:
    outputs: dict[str, np.ndarray]
    queue_wait_s: float


@dataclass(frozen=True, slots=True)
class BatchStats:
    rows: int
    requests: int
    seconds: float
    predictions: np.ndarray | None


@dataclass(slots=True)
class _Pending:
    values: np.ndarray
    wanted: frozenset[str]
    future: asyncio.Future[Prediction]
    charge: int  # the queue rows it holds: its rows, at most one batch
    shadow: bool = False  # a shadow copy: computed and logged, never an answer to count
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(
        self,
        model: ServedModel,
        *,
        max_batch_size: int,
        max_delay_s: float,
        max_queue_rows: int,
        arriving: Callable[[], int] = lambda: 0,
        on_batch: Callable[[ServedModel, BatchStats], None] | None = None,
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_s
        self.max_queue_rows = max_queue_rows
        self._arriving = arriving
        self._on_batch = on_batch
        self._inbox: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        # Rows admitted (written on the event loop) and rows taken into a batch (written by the
        # predict thread): each counter has one writer, so no lock is needed.
        self._admitted_rows = 0
        self._taken_rows = 0
        self._carry: _Pending | None = None  # predict thread only: did not fit the last batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def queued_rows(self) -> int:
        return self._admitted_rows - self._taken_rows

    async def predict(
        self, values: np.ndarray, wanted: frozenset[str], *, shadow: bool = False
    ) -> Prediction:
        """The outputs for ``values``; a ``shadow`` copy's predictions are left out of the
        batch's counted predictions (``model_predictions_total`` counts served answers)."""
        if self._closed:
            raise Overloaded(
                f"model {self.model.name} version {self.model.version} was just replaced",
                hint="retry: the new version answers",
            )
        rows = values.shape[0]
        # A request larger than a batch runs alone and holds only a batch's room in the queue:
        # its size is never a reason to refuse it (the body-size limit bounds it).
        room = min(rows, self.max_batch_size)
        waiting = self.queued_rows
        if waiting + room > self.max_queue_rows:
            raise Overloaded(
                f"model {self.model.name} has {waiting} rows waiting",
                hint="retry shortly; add workers or lower the request rate",
            )
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._start(loop)
        item = _Pending(values, wanted, loop.create_future(), room, shadow)
        self._admitted_rows += room
        self._inbox.put(item)
        return await item.future

    def close(self) -> None:
        """Stop the predict thread once the requests already queued are answered."""
        if not self._closed:
            self._closed = True
            self._inbox.put(None)

    def retire(self) -> None:
        """Close once the queued requests are answered (a newer version took over)."""
        self.close()

    # -- the predict thread -----------------------------------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve, name=f"predict-{self.model.name}-{self.model.version}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        while True:
            first = self._carry if self._carry is not None else self._inbox.get()
            self._carry = None
            if first is None:
                return
            batch, stop = self._gather(first)
            self._taken_rows += sum(item.charge for item in batch)
            self._run(batch)
            if stop:
                return

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """``first`` and the requests queued behind it, up to a batch; while the model would be
        idle and requests are still being read off the wire, wait for them (at most
        ``max_delay_s``)."""
        batch, rows = [first], first.values.shape[0]
        deadline: float | None = None
        while rows < self.max_batch_size:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                if self._arriving() <= 0:
                    break
                now = time.perf_counter()
                deadline = deadline if deadline is not None else now + self.max_delay_s
                if now >= deadline:
                    break
                try:
                    item = self._inbox.get(timeout=deadline - now)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            if rows + item.values.shape[0] > self.max_batch_size:
                self._carry = item
                break
            batch.append(item)
            rows += item.values.shape[0]
        return batch, False

    def _run(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        wanted = frozenset().union(*(item.wanted for item in batch)) | {"predict"}
        values = (
            batch[0].values
            if len(batch) == 1
            else np.concatenate([item.values for item in batch], axis=0)
        )
        try:
            outputs = self.model.predict(values, wanted)
        except Exception as exc:
            if len(batch) > 1:  # find the request the model refuses; the others still succeed
                for item in batch:
                    self._run([item])
                return
            self._post(_fail, batch[0], exc)
            return
        self._post(self._deliver, batch, outputs, started)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits
            self._loop.call_soon_threadsafe(callback, *args)

    # -- back on the event loop -------------------------------------------------------------

    def _deliver(
        self, batch: list[_Pending], outputs: dict[str, np.ndarray], started: float
    ) -> None:
        offset = 0
        for item in batch:
            rows = item.values.shape[0]
            # Every computed output goes back (the encoder picks what was asked for): the
            # inference log records ``predict`` even when a client asked only for probabilities.
            mine = {k: v[offset : offset + rows] for k, v in outputs.items()}
            offset += rows
            if not item.future.done():
                item.future.set_result(Prediction(mine, started - item.enqueued))
        if self._on_batch is not None:
            stats = BatchStats(
                offset, len(batch), time.perf_counter() - started, _served(batch, outputs)
            )
            self._on_batch(self.model, stats)


def _served(batch: list[_Pending], outputs: dict[str, np.ndarray]) -> np.ndarray | None:
    """The predictions of the batch's served requests (shadow copies left out)."""
    predicted = outputs["predict"]
    if not any(item.shadow for item in batch):
        return predicted
    parts, offset = [], 0
    for item in batch:
        rows = item.values.shape[0]
        if not item.shadow:
            parts.append(predicted[offset : offset + rows])
        offset += rows
    return np.concatenate(parts) if parts else None


def _fail(item: _Pending, exc: BaseException) -> None:
    if item.future.done():
        return
    if isinstance(exc, ValueError | TypeError | KeyError | OverflowError):
        error: BaseException = InvalidInput(f"the model rejected the input: {exc}")
    else:
        log.exception("predict failed", exc_info=exc)
        error = exc
    item.future.set_exception(error)
