"""Monitoring: drift detectors over arrays, drift reports over tables, reports people read.

Owns: the drift statistics (``detectors``: KS, PSI, normed Wasserstein, chi-square, Jensen-Shannon,
z, missing-value and unseen-level shares) and the drift report over two tables (``drift``: the
default test per column type and size, thresholds, the dataset verdict).

May import: ``loopline.core``. Detectors are pure functions over arrays (no I/O, no store) so that
monitoring reports, canary checks and retrain triggers call the same code; NumPy and SciPy load
only when a detector is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.monitoring.detectors import TestResult
    from loopline.monitoring.drift import ColumnDrift, DriftDetector, DriftReport

_LAZY = {
    "ColumnDrift": "loopline.monitoring.drift",
    "DriftDetector": "loopline.monitoring.drift",
    "DriftReport": "loopline.monitoring.drift",
    "TestResult": "loopline.monitoring.detectors",
}

__all__ = ["ColumnDrift", "DriftDetector", "DriftReport", "TestResult"]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
