"""Monitoring: drift detectors over arrays, drift reports over tables, reports people read.

Owns: the drift statistics (``detectors``: KS, PSI, normed Wasserstein, chi-square, Jensen-Shannon,
z, missing-value and unseen-level shares) and the drift report over two tables (``drift``: the
default test per column type and size, thresholds, the dataset verdict), the HTML report
(``html``), table reading (``tables``), drift of a served model's inference-log window against its
training data found through lineage (``served``) and saved reports (``reports``); realized
performance once delayed labels arrive (``labelled``, ``performance``), the monitoring gauges
(``exporter``), alerting rules (``alerts``), the Grafana dashboard (``dashboard``) and scheduled
evaluations (``schedule``).

May import: ``loopline.core``, ``loopline.store``, ``loopline.serving`` (inference-log readers),
``loopline.registry``/``loopline.tracking`` (lineage), ``loopline.data`` (the object cache).
Detectors are pure functions over arrays (no I/O, no store) so that monitoring reports, canary
checks and retrain triggers call the same code; NumPy and SciPy load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.monitoring.detectors import TestResult
    from loopline.monitoring.drift import ColumnDrift, DriftDetector, DriftReport
    from loopline.monitoring.html import render_html
    from loopline.monitoring.reports import list_reports, save_drift_report
    from loopline.monitoring.served import read_log_window, served_drift, training_reference
    from loopline.monitoring.tables import read_table

_LAZY = {
    "ColumnDrift": "loopline.monitoring.drift",
    "DriftDetector": "loopline.monitoring.drift",
    "DriftReport": "loopline.monitoring.drift",
    "list_reports": "loopline.monitoring.reports",
    "read_log_window": "loopline.monitoring.served",
    "read_table": "loopline.monitoring.tables",
    "render_html": "loopline.monitoring.html",
    "save_drift_report": "loopline.monitoring.reports",
    "served_drift": "loopline.monitoring.served",
    "training_reference": "loopline.monitoring.served",
    "TestResult": "loopline.monitoring.detectors",
}

__all__ = [
    "ColumnDrift",
    "DriftDetector",
    "DriftReport",
    "TestResult",
    "list_reports",
    "read_log_window",
    "read_table",
    "render_html",
    "save_drift_report",
    "served_drift",
    "training_reference",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
