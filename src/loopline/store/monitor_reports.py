"""The monitor-reports aggregate: one row per saved monitoring report, newest first."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, select

from loopline.store._schema import monitor_reports
from loopline.store._store import Store

__all__ = ["MonitorReportRecord", "list_monitor_reports", "record_monitor_report"]


@dataclass(frozen=True)
class MonitorReportRecord:
    report_id: str
    kind: str  # "drift"
    model_name: str | None
    model_version: str | None
    created_at: float
    window_start: float | None
    window_end: float | None
    reference: str
    n_reference: int
    n_current: int
    dataset_drift: bool
    drift_share: float
    drifted_columns: int
    columns: int
    path: str  # the report's folder, relative to the store's reports folder


def record_monitor_report(store: Store, record: MonitorReportRecord) -> None:
    def change(conn: Connection) -> None:
        conn.execute(monitor_reports.insert().values(**asdict(record)))

    store.write(change)


def list_monitor_reports(
    store: Store, *, model_name: str | None = None, limit: int = 100
) -> list[MonitorReportRecord]:
    """Saved reports, newest first (of one model, or all)."""

    def query(conn: Connection) -> list[MonitorReportRecord]:
        statement = select(monitor_reports)
        if model_name is not None:
            statement = statement.where(monitor_reports.c.model_name == model_name)
        statement = statement.order_by(monitor_reports.c.created_at.desc()).limit(limit)
        return [MonitorReportRecord(**row._asdict()) for row in conn.execute(statement)]

    return store.read(query)
