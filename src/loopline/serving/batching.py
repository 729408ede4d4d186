"""Adaptive batching: concurrent requests for one model version become one ``predict`` call.

One predict runs at a time per model version, in a dedicated thread (CPU work stays off the
event loop). Requests that arrive while it runs queue up and form the next batch, so batches
grow with load and a lone request on an idle server is dispatched at once. When the model is
idle but other requests are still being read off the wire, the batcher waits for them, at most
``max_delay_s``. The queue is bounded in rows: beyond it a request is refused (HTTP 503) instead
of letting memory grow without limit. A request larger than ``max_batch_size`` is one batch of
its own, admitted whenever a batch fits in the queue: its size alone never refuses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._worker: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"predict-{model.name}")
        self._retired = False

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    async def predict(self, values: np.ndarray, wanted: frozenset[str]) -> Prediction:
        rows = values.shape[0]
        # A request larger than a batch runs alone and holds only a batch's room in the queue:
        # its size is never a reason to refuse it (the body-size limit bounds it).
        room = min(rows, self.max_batch_size)
        if self._queued_rows + room > self.max_queue_rows:
            raise Overloaded(
                f"model {self.model.name} has {self._queued_rows} rows waiting",
                hint="retry shortly; add workers or lower the request rate",
            )
        loop = asyncio.get_running_loop()
        item = _Pending(values, wanted, loop.create_future(), room)
        self._queue.append(item)
        self._queued_rows += room
        if self._worker is None:
            self._worker = loop.create_task(self._drain())
        elif self._wakeup is not None and not self._wakeup.done() and self._ready_to_go():
            self._wakeup.set_result(None)
        return await item.future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=False)

    def retire(self) -> None:
        """Close once the queued requests are answered (a newer version took over)."""
        self._retired = True
        if self._worker is None:
            self.close()

    # -- the batch loop ---------------------------------------------------------------------

    async def _drain(self) -> None:
        try:
            while self._queue:
                if not self._ready_to_go():
                    await self._wait_for_companions()
                batch = self._take_batch()
                await self._run(batch)
        finally:
            self._worker = None
            if self._retired:
                self.close()

    def _ready_to_go(self) -> bool:
        return self._queued_rows >= self.max_batch_size or self._arriving() == 0

    async def _wait_for_companions(self) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = loop.create_future()
        timer = loop.call_later(self.max_delay_s, _resolve, self._wakeup)
        try:
            await self._wakeup
        finally:
            timer.cancel()
            self._wakeup = None

    def _take_batch(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        rows = batch[0].values.shape[0]
        while self._queue and rows + self._queue[0].values.shape[0] <= self.max_batch_size:
            item = self._queue.popleft()
            rows += item.values.shape[0]
            batch.append(item)
        self._queued_rows -= sum(item.charge for item in batch)
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        wanted = frozenset().union(*(item.wanted for item in batch)) | {"predict"}
        values = (
            batch[0].values
            if len(batch) == 1
            else np.concatenate([item.values for item in batch], axis=0)
        )
        try:
            outputs = await loop.run_in_executor(self._executor, self.model.predict, values, wanted)
        except Exception as exc:
            if len(batch) > 1:  # find the request the model refuses; the others still succeed
                for item in batch:
                    await self._run([item])
                return
            _fail(batch[0], exc)
            return
        self._deliver(batch, outputs, started)

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
                offset, len(batch), time.perf_counter() - started, outputs["predict"]
            )
            self._on_batch(self.model, stats)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(item: _Pending, exc: BaseException) -> None:
    if item.future.done():
        return
    if isinstance(exc, ValueError | TypeError | KeyError | OverflowError):
        error: BaseException = InvalidInput(f"the model rejected the input: {exc}")
    else:
        log.exception("predict failed", exc_info=exc)
        error = exc
    item.future.set_exception(error)
