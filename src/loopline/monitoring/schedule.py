"""Scheduled evaluation of served models: performance (and drift) per model version over a
sliding window, exported as gauges and recorded in the store.

Each cycle reads the inference log and the feedback once, and for every model (those named, or
every model in the log) and every version that answered requests in the window: judges its
realized performance, asks ``_drift_for`` for a drift result, sets the gauges and records one
row per evaluation in ``monitor_evaluations``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopline.monitoring._sql import SqlEvaluations
    from loopline.monitoring.exporter import MonitoringGauges
    from loopline.monitoring.performance import PerformanceMonitor, PerformanceResult

__all__ = ["Evaluation", "MonitorRun"]

log = logging.getLogger(__name__)


def _drift_for(
    model: str, version: str, window: tuple[datetime | None, datetime | None]
) -> dict[str, Any] | None:
    """The drift result of ``model`` ``version`` over ``window`` (start, end), or ``None``.

    The hook where drift detection plugs in: it returns the JSON object of
    ``loopline monitor drift --json`` — ``{"dataset_drift", "drift_share", "drifted_columns",
    "columns": {name: {"type", "test", "statistic", "p_value", "threshold", "drifted"}}}`` —
    comparing the version's logged features in the window with its reference data. Until the
    drift detectors are wired in it returns ``None``, and no drift gauges are exported.
    """
    return None


def lineage_drift(
    log_root: Path, tracking_uri: str | None = None, *, min_rows: int = 100
) -> Callable[[str, str, tuple[datetime | None, datetime | None]], dict[str, Any] | None]:
    """A ``drift_for`` judging each version's logged features against its training data,
    found through lineage (as ``monitor report`` does). A version without a findable reference,
    or a window with fewer than ``min_rows`` rows, gets no drift result (warned once)."""
    from loopline.core.errors import LooplineError

    references: dict[tuple[str, str], Any] = {}
    warned: set[tuple[str, str, str]] = set()

    def drift_for(
        model: str, version: str, window: tuple[datetime | None, datetime | None]
    ) -> dict[str, Any] | None:
        from loopline.monitoring.drift import DriftDetector
        from loopline.monitoring.served import lineage_reference, read_log_window, served_drift

        try:
            logged = read_log_window(
                log_root, model, version=version, since=window[0], until=window[1]
            )
            if logged.table.num_rows < min_rows:
                return None
            key = (model, version)
            if key not in references:
                # As `monitor report` builds it: prediction drift counts in both.
                references[key] = lineage_reference(logged, tracking_uri=tracking_uri)
                if references[key][2]:
                    log.warning("%s version %s: %s", model, version, references[key][2])
            reference, name, _ = references[key]
            result = served_drift(
                logged, reference, name, DriftDetector(plots=False), min_rows=min_rows
            )
        except LooplineError as exc:
            if (model, version, exc.message) not in warned:
                warned.add((model, version, exc.message))
                log.warning("no drift for %s version %s: %s", model, version, exc.message)
            return None
        return None if result.report is None else result.report.to_dict()

    return drift_for


@dataclass(frozen=True)
class Evaluation:
    model: str
    version: str
    performance: PerformanceResult
    drift: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "performance": self.performance.to_dict(),
            "drift": self.drift,
        }


class MonitorRun:
    """Evaluates ``models`` (``None``: every model in the log) over the last ``window``, ending
    ``delay`` ago so that labels had time to arrive; results go to ``gauges`` and ``records``
    when given."""

    def __init__(
        self,
        log_root: Path,
        models: Sequence[str] | None = None,
        *,
        window: timedelta = timedelta(hours=1),
        delay: timedelta = timedelta(0),
        monitor: PerformanceMonitor | None = None,
        gauges: MonitoringGauges | None = None,
        records: SqlEvaluations | None = None,
        drift_for: Callable[
            [str, str, tuple[datetime | None, datetime | None]], dict[str, Any] | None
        ] = _drift_for,
    ) -> None:
        from loopline.monitoring.performance import PerformanceMonitor

        self.log_root = log_root
        self.models = tuple(models) if models else None
        self.window = window
        self.delay = delay
        self.monitor = monitor or PerformanceMonitor()
        self.gauges = gauges
        self.records = records
        self.drift_for = drift_for

    def run(self, now: datetime | None = None) -> list[Evaluation]:
        """One evaluation cycle."""
        from loopline.monitoring.labelled import join_labels
        from loopline.monitoring.performance import read_log_and_feedback

        end = (now or datetime.now(UTC)) - self.delay
        start = end - self.window
        keys, _ = read_log_and_feedback(self.log_root)
        found = []
        tables: dict[str, tuple[Any, Any]] = {}
        for model, version in self._targets(keys, start, end):
            # Each model's log on its own: models' outputs may have different types.
            if model not in tables:
                tables = {model: read_log_and_feedback(self.log_root, model)}
            log_table, feedback = tables[model]
            data = join_labels(log_table, feedback, model, version=version, start=start, end=end)
            result = self.monitor.evaluate(data, model=model, version=version, start=start, end=end)
            drift = self.drift_for(model, version, (start, end))
            found.append(Evaluation(model, version, result, drift))
            self._publish(found[-1])
        return found

    def every(self, interval: timedelta, stop: threading.Event) -> None:
        """Run a cycle every ``interval`` (from the start of one to the next) until ``stop``;
        a failed cycle is logged and the schedule goes on."""
        seconds = interval.total_seconds()
        while not stop.is_set():
            began = time.monotonic()
            try:
                evaluations = self.run()
                log.info("evaluated %d model version(s)", len(evaluations))
            except Exception:  # one bad cycle must not end the schedule
                log.exception("a monitoring cycle failed; the next one runs as planned")
            stop.wait(max(0.0, seconds - (time.monotonic() - began)))

    # -- parts ------------------------------------------------------------------------------

    def _targets(self, log_table: Any, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """(model, version) pairs that answered requests in the window, plus named models with
        no traffic (judged as version "" so that their silence is recorded)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pairs: set[tuple[str, str]] = set()
        if log_table.num_rows:
            stamp = log_table.column("timestamp")
            mask = pc.and_(
                pc.greater_equal(stamp, pa.scalar(start, stamp.type)),
                pc.less(stamp, pa.scalar(end, stamp.type)),
            )
            window = log_table.filter(mask).select(["model_name", "model_version"])
            seen = window.group_by(["model_name", "model_version"]).aggregate([])
            pairs = set(zip(*(seen.column(c).to_pylist() for c in seen.column_names), strict=True))
        if self.models is not None:
            pairs = {p for p in pairs if p[0] in self.models}
            silent = set(self.models) - {p[0] for p in pairs}
            pairs |= {(model, "") for model in silent}
        return sorted(pairs)

    def _publish(self, evaluation: Evaluation) -> None:
        result, version = evaluation.performance, evaluation.version
        if self.gauges is not None:
            self.gauges.set_performance(result, version)
            if evaluation.drift is not None:
                self.gauges.set_drift(evaluation.model, version, evaluation.drift)
        if self.records is None:
            return
        model, at = evaluation.model, time.time()
        self.records.record(
            model=model, version=version or None, kind="performance", status=result.status,
            at=at, start=result.start, end=result.end, logged_rows=result.logged_rows,
            labelled_rows=result.labelled_rows, detail=result.to_dict(),
        )  # fmt: skip
        if evaluation.drift is not None:
            drifted = bool(evaluation.drift.get("dataset_drift"))
            self.records.record(
                model=model, version=version or None, kind="drift",
                status="drift" if drifted else "no_drift", at=at, start=result.start,
                end=result.end, logged_rows=None, labelled_rows=None, detail=evaluation.drift,
            )  # fmt: skip
