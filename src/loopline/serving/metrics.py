"""Prometheus metrics of the model server, with the names users already chart.

Each app gets its own ``CollectorRegistry``. With several worker processes the values live in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), so ``/metrics`` on any
worker reports the whole server; files of workers that died are cleaned up when a worker starts.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from loopline.serving.batching import BatchStats
from loopline.serving.model import ServedModel

__all__ = ["CONTENT_TYPE", "ServingMetrics", "forget_dead_workers", "multiprocess_dir"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_DB_FILE = re.compile(r"_(\d+)\.db$")
FLUSH_S = 0.1  # the longest tallied requests wait to be applied when no batch completes


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServingMetrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, variants: bool = False
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # Serving a deployment adds a ``variant`` label to the per-model series; plain serving
        # keeps the series it always had.
        self.variants = variants
        v = ["variant"] if variants else []
        self.predictions = Counter(
            "model_predictions",
            "Predictions made, by model, version, predicted class and deployment variant.",
            ["model_name", "model_version", "prediction", *v],
            registry=r,
        )
        self.latency = Histogram(
            "prediction_latency_seconds",
            "Time from a request's arrival to its response, per inference request.",
            ["model_name", "model_version", *v],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "inference_requests",
            "Inference requests answered, by model, protocol, HTTP status code and variant.",
            ["model_name", "protocol", "code", *v],
            registry=r,
        )
        self.batch_size = Histogram(
            "inference_batch_size",
            "Rows per predict call after adaptive batching.",
            ["model_name", "model_version", *v],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "inference_queue_wait_seconds",
            "Time a request waited in the batching queue before its predict call started.",
            ["model_name", "model_version", *v],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "inference_requests_in_flight",
            "Inference requests being handled right now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.load_seconds = Gauge(
            "model_load_seconds",
            "Seconds the last load of a model version took.",
            ["model_name", "model_version", *v],
            registry=r,
            multiprocess_mode="max",
        )
        self.shadow_dropped = Counter(
            "inference_shadow_dropped",
            "Shadow copies not sent because the server had queued work (shadowing is best effort).",
            registry=r,
        )
        self.inference_log_dropped = Counter(
            "inference_log_dropped_records",
            "Sampled inference records dropped because the writer fell behind.",
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._requests: dict[tuple[str, str, str, int, str], list[float]] = {}
        self._queue_waits: dict[tuple[str, str, str], list[float]] = {}
        self._in_flight = 0
        self._in_flight_shown = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- hot path: requests are tallied in plain Python, applied once per batch ------------
    #
    # A prometheus_client update takes a lock (and, with several workers, writes a memory-mapped
    # file); per request that was most of the metrics' cost. Requests are tallied here and
    # applied when a batch completes, when /metrics is read, and at most FLUSH_S after the last
    # request, so exposed values are never more than that behind. Tallies are touched only on
    # the event loop.

    # ``variant`` is the deployment variant that answered; "" outside deployments, which
    # Prometheus stores as no label at all.
    def observe_request(
        self, model: str, version: str, protocol: str, code: int, seconds: float, variant: str = ""
    ) -> None:
        key = (model, version, protocol, code, variant)
        tally = self._requests.get(key)
        if tally is None:
            tally = self._requests[key] = []
        tally.append(seconds)
        self._flush_soon()

    def observe_rejected(self, model: str, protocol: str, code: int, variant: str = "") -> None:
        self._child(self.requests, model, protocol, str(code), variant).inc()

    def observe_batch(self, model: ServedModel, stats: BatchStats) -> None:
        variant = model.variant
        self._child(self.batch_size, model.name, model.version, variant).observe(stats.rows)
        if stats.predictions is not None:
            for label, count in model.prediction_labels(stats.predictions):
                self._child(self.predictions, model.name, model.version, label, variant).inc(count)
        self.flush()

    def observe_queue_wait(
        self, model: str, version: str, seconds: float, variant: str = ""
    ) -> None:
        key = (model, version, variant)
        tally = self._queue_waits.get(key)
        if tally is None:
            tally = self._queue_waits[key] = []
        tally.append(seconds)

    def request_started(self) -> None:
        self._in_flight += 1
        self._flush_soon()

    def request_finished(self) -> None:
        self._in_flight -= 1
        self._flush_soon()

    def flush(self) -> None:
        """Apply the tallied requests to the Prometheus metrics."""
        requests, self._requests = self._requests, {}
        waits, self._queue_waits = self._queue_waits, {}
        for (model, version, protocol, code, variant), seconds in requests.items():
            self._child(self.requests, model, protocol, str(code), variant).inc(len(seconds))
            if code < 300:
                _observe_many(self._child(self.latency, model, version, variant), seconds)
        for (model, version, variant), seconds in waits.items():
            _observe_many(self._child(self.queue_wait, model, version, variant), seconds)
        if self._in_flight != self._in_flight_shown:
            self.in_flight.inc(self._in_flight - self._in_flight_shown)
            self._in_flight_shown = self._in_flight

    def _flush_soon(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self._timed_flush)

    def _timed_flush(self) -> None:
        self._timer = None
        self.flush()

    def observe_load(self, model: ServedModel) -> None:
        self._child(self.load_seconds, model.name, model.version, model.variant).set(
            model.load_seconds
        )

    def _child(self, metric: Any, *labels: str) -> Any:
        """The cached child of ``metric``; the last label is the variant, dropped (with its
        value) when this server does not label variants."""
        if not self.variants:
            labels = labels[:-1]
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- exposition -------------------------------------------------------------------------

    def exposition(self) -> bytes:
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        collecting = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(collecting, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(collecting)


def _observe_many(child: Any, values: list[float]) -> None:
    """``child.observe(v)`` for each value, with one update per bucket touched."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None or len(values) == 1:
        for value in values:
            child.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:
        index = bisect.bisect_left(bounds, value)
        counts[index] = counts.get(index, 0) + 1
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(sum(values))


def forget_dead_workers() -> None:
    """Remove live-gauge files of worker processes that no longer exist (counters are kept, so
    totals survive a worker being replaced)."""
    folder = multiprocess_dir()
    if folder is None:
        return
    pids = {int(m.group(1)) for p in Path(folder).glob("*.db") if (m := _DB_FILE.search(p.name))}
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            prom_multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
