"""Performance beside a served drift report: the labelled feedback of the judged version in the
report's window, the window of the same length just before it (the reference window), and
buckets over the window (performance over time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopline.monitoring.performance import LOWER_IS_BETTER, PerformanceResult

__all__ = ["WindowPerformance", "window_performance"]

BUCKETS = 12


@dataclass(frozen=True)
class WindowPerformance:
    """``current``: the report's window; ``reference``: the window before it (None when the
    report's window has no start, or nothing was labelled then)."""

    current: PerformanceResult
    reference: PerformanceResult | None

    def change(self) -> dict[str, float | None]:
        """Current minus reference, per metric (None when either side lacks it)."""
        found: dict[str, float | None] = {}
        for name, value in self.current.metrics.items():
            before = self.reference.metrics.get(name) if self.reference else None
            found[name] = None if value is None or before is None else value - before
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current.to_dict(),
            "reference_window": self.reference.to_dict() if self.reference else None,
            "change": self.change(),
            "lower_is_better": sorted(n for n in self.current.metrics if n in LOWER_IS_BETTER),
        }


def window_performance(
    log_root: Path, model: str, version: str, start: datetime | None, end: datetime
) -> WindowPerformance | None:
    """None when no row of the window has a label yet."""
    from loopline.monitoring.performance import PerformanceMonitor, evaluate_performance

    span = (end - start) if start is not None else None
    bucket = max(span / BUCKETS, timedelta(minutes=1)) if span else timedelta(hours=1)
    monitor = PerformanceMonitor(bucket=bucket)
    current = evaluate_performance(
        log_root, model, version=version, start=start, end=end, monitor=monitor
    )
    if current.labelled_rows == 0:
        return None
    reference = None
    if start is not None and span is not None:
        before = evaluate_performance(
            log_root, model, version=version, start=start - span, end=start,
            monitor=PerformanceMonitor(),
        )  # fmt: skip
        reference = before if before.labelled_rows else None
    return WindowPerformance(current, reference)
