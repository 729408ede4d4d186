"""Adaptive batching: concurrent requests share a predict call, a lone request is not delayed,
a full queue refuses work, and one bad request does not fail its batch-mates."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from loopline.core.errors import InvalidInput
from loopline.serving.batching import Batcher, Overloaded
from loopline.serving.inputs import InputSchema
from loopline.serving.model import ServedModel


class SlowDoubler:
    """Predicts 2x the first column, slowly, and remembers each call's batch size."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def predict(self, values: np.ndarray) -> np.ndarray:
        with self.lock:
            self.batches.append(values.shape[0])
        time.sleep(self.seconds)
        if (values == 13).any():
            raise ValueError("13 is not a valid input")
        return values[:, 0] * 2


def _model(estimator: SlowDoubler) -> ServedModel:
    return ServedModel(
        name="m",
        version="1",
        uri="test",
        folder=Path("."),
        estimator=estimator,
        schema=InputSchema.unnamed(1),
        outputs=("predict",),
        classes=None,
        load_seconds=0.0,
    )


def _batcher(estimator: SlowDoubler, **options: object) -> Batcher:
    settings: dict[str, object] = {
        "max_batch_size": 64,
        "max_delay_s": 0.002,
        "max_queue_rows": 1000,
    }
    settings.update(options)
    return Batcher(_model(estimator), **settings)  # type: ignore[arg-type]


def _row(value: float) -> np.ndarray:
    return np.asarray([[value]], dtype=np.float64)


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows() -> None:
    estimator = SlowDoubler()

    async def main() -> list[float]:
        batcher = _batcher(estimator)
        results = await asyncio.gather(
            *(batcher.predict(_row(i + 100), frozenset({"predict"})) for i in range(20))
        )
        return [float(r.outputs["predict"][0]) for r in results]

    assert asyncio.run(main()) == [2.0 * (i + 100) for i in range(20)]
    assert sum(estimator.batches) == 20
    assert len(estimator.batches) <= 2  # arrived together: one or two predict calls, not 20


def test_batches_never_exceed_the_maximum_size() -> None:
    estimator = SlowDoubler(0.01)

    async def main() -> None:
        batcher = _batcher(estimator, max_batch_size=4)
        wanted = frozenset({"predict"})
        await asyncio.gather(*(batcher.predict(_row(i + 100), wanted) for i in range(17)))

    asyncio.run(main())
    assert max(estimator.batches) <= 4 and sum(estimator.batches) == 17


def test_a_lone_request_is_not_held_back_by_the_batch_delay() -> None:
    estimator = SlowDoubler(0.0)

    async def main() -> float:
        batcher = _batcher(estimator, max_delay_s=5.0)
        started = time.perf_counter()
        await batcher.predict(_row(1), frozenset({"predict"}))
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.5


def test_the_batcher_waits_for_requests_still_arriving_but_not_past_the_delay() -> None:
    estimator = SlowDoubler(0.0)
    arriving = {"count": 1}

    async def main() -> None:
        batcher = _batcher(estimator, max_delay_s=0.2, arriving=lambda: arriving["count"])
        first = asyncio.ensure_future(batcher.predict(_row(1), frozenset({"predict"})))
        await asyncio.sleep(0.02)
        arriving["count"] = 0
        await batcher.predict(_row(2), frozenset({"predict"}))
        await first

    asyncio.run(main())
    assert estimator.batches == [2]


def test_a_full_queue_refuses_new_work_instead_of_growing() -> None:
    estimator = SlowDoubler(0.2)

    async def main() -> None:
        batcher = _batcher(estimator, max_batch_size=2, max_queue_rows=3)
        running = [
            asyncio.ensure_future(batcher.predict(_row(i), frozenset({"predict"})))
            for i in range(3)
        ]
        await asyncio.sleep(0.05)
        queued = [
            asyncio.ensure_future(batcher.predict(_row(i), frozenset({"predict"})))
            for i in range(2)
        ]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="rows waiting"):
            await batcher.predict(_row(9), frozenset({"predict"}))
        await asyncio.gather(*running, *queued)

    asyncio.run(main())


def test_a_request_larger_than_the_queue_runs_alone() -> None:
    estimator = SlowDoubler(0.0)

    async def main() -> np.ndarray:
        batcher = _batcher(estimator, max_batch_size=2, max_queue_rows=3)
        small = asyncio.ensure_future(batcher.predict(_row(5), frozenset({"predict"})))
        large = await batcher.predict(np.arange(10.0).reshape(10, 1), frozenset({"predict"}))
        await small
        return large.outputs["predict"]

    assert asyncio.run(main()).tolist() == [2.0 * i for i in range(10)]
    assert sorted(estimator.batches) == [1, 10]


def test_one_bad_request_fails_alone_and_its_batch_mates_succeed() -> None:
    estimator = SlowDoubler(0.01)

    async def main() -> list[object]:
        batcher = _batcher(estimator)
        calls = [batcher.predict(_row(v), frozenset({"predict"})) for v in (1, 2, 13, 4)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[2], InvalidInput)
    assert "13 is not a valid input" in results[2].message
    assert [float(r.outputs["predict"][0]) for i, r in enumerate(results) if i != 2] == [2, 4, 8]  # type: ignore[union-attr]


def test_a_retired_batcher_answers_what_it_queued_and_sends_newcomers_elsewhere() -> None:
    estimator = SlowDoubler(0.05)

    async def main() -> list[float]:
        batcher = _batcher(estimator)
        queued = [
            asyncio.ensure_future(batcher.predict(_row(v), frozenset({"predict"})))
            for v in (1, 2, 3)
        ]
        await asyncio.sleep(0)
        batcher.retire()
        with pytest.raises(Overloaded, match="was just replaced"):
            await batcher.predict(_row(4), frozenset({"predict"}))
        return [float(r.outputs["predict"][0]) for r in await asyncio.gather(*queued)]

    assert asyncio.run(main()) == [2.0, 4.0, 6.0]


def test_shadow_copies_are_computed_but_not_counted_as_served_predictions() -> None:
    from loopline.serving.batching import BatchStats

    counted: list[list[float]] = []

    def on_batch(model: ServedModel, stats: BatchStats) -> None:
        if stats.predictions is not None:
            counted.append(stats.predictions.tolist())

    async def main() -> list[float]:
        batcher = _batcher(SlowDoubler(0.01), on_batch=on_batch)
        wanted = frozenset({"predict"})
        shadowed = await batcher.predict(_row(7), wanted, shadow=True)
        together = await asyncio.gather(
            batcher.predict(_row(1), wanted, shadow=True), batcher.predict(_row(2), wanted)
        )
        return [float(r.outputs["predict"][0]) for r in (shadowed, *together)]

    assert asyncio.run(main()) == [14.0, 2.0, 4.0]  # shadows get their answers
    assert sorted(v for batch in counted for v in batch) == [4.0]  # only the served one counts
