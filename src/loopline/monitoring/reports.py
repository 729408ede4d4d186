"""Saved monitoring reports: files in the store's ``reports`` folder, a row in the store.

Each report gets a folder ``<reports>/<report id>/`` holding ``report.json`` (the verdict, the
per-column details and the context) and ``report.html``; the store keeps the verdict and the
model version judged, so ``loopline monitor reports`` lists them without opening files.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopline.core.atomic import atomic_write_text
from loopline.monitoring.drift import DriftReport
from loopline.store import Store
from loopline.store.monitor_reports import (
    MonitorReportRecord,
    list_monitor_reports,
    record_monitor_report,
)

if TYPE_CHECKING:
    from loopline.monitoring.window_performance import WindowPerformance

__all__ = ["list_reports", "save_drift_report"]


def save_drift_report(
    store: Store,
    reports_dir: Path,
    report: DriftReport,
    *,
    reference: str,
    model: str | None = None,
    version: str | None = None,
    window: tuple[datetime | None, datetime] | None = None,
    context: Mapping[str, str] | None = None,
    performance: WindowPerformance | None = None,
) -> tuple[MonitorReportRecord, Path]:
    """Write the report's files, then record it (files first: a row never points at nothing)."""
    from loopline.monitoring.html import render_html

    report_id = uuid.uuid4().hex
    folder = reports_dir / report_id
    folder.mkdir(parents=True, exist_ok=False)
    start, end = window if window else (None, None)
    document = {
        **report.to_dict(),
        "model": model,
        "version": version,
        "reference": reference,
        "window": {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        },
        "details": report.details(),
    }
    if performance is not None:
        document["performance"] = performance.to_dict()
    atomic_write_text(folder / "report.json", json.dumps(_finite(document), indent=1))
    title = f"{model} version {version}" if model else "Drift report"
    html_path = folder / "report.html"
    atomic_write_text(
        html_path, render_html(report, title=title, context=context, performance=performance)
    )
    record = MonitorReportRecord(
        report_id=report_id,
        kind="drift",
        model_name=model,
        model_version=version,
        created_at=time.time(),
        window_start=start.timestamp() if start else None,
        window_end=end.timestamp() if end else None,
        reference=reference[:1024],
        n_reference=report.n_reference,
        n_current=report.n_current,
        dataset_drift=report.dataset_drift,
        drift_share=report.drift_share,
        drifted_columns=report.drifted_columns,
        columns=len(report.columns),
        path=report_id,
    )
    record_monitor_report(store, record)
    return record, html_path


def list_reports(store: Store, *, model: str | None = None) -> list[MonitorReportRecord]:
    return list_monitor_reports(store, model_name=model)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
