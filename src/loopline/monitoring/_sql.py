"""Queries over the ``monitor_evaluations`` table (the store's schema, this capability's rows)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from loopline.store import Store
from loopline.store._schema import monitor_evaluations

__all__ = ["EvaluationRow", "SqlEvaluations"]


@dataclass(frozen=True)
class EvaluationRow:
    id: int
    model: str
    version: str | None
    kind: str
    status: str
    at: float
    window_start: float | None
    window_end: float | None
    logged_rows: int | None
    labelled_rows: int | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "model": self.model, "version": self.version, "kind": self.kind,
            "status": self.status, "at": self.at, "window_start": self.window_start,
            "window_end": self.window_end, "logged_rows": self.logged_rows,
            "labelled_rows": self.labelled_rows, "detail": self.detail,
        }  # fmt: skip


def _row(r: Any) -> EvaluationRow:
    return EvaluationRow(
        r.id, r.model, r.version, r.kind, r.status, r.at, r.window_start, r.window_end,
        r.logged_rows, r.labelled_rows, json.loads(r.detail),
    )  # fmt: skip


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON has no NaN; nothing is lost silently
    because a non-finite number carries no value to keep)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _seconds(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class SqlEvaluations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        *,
        model: str,
        version: str | None,
        kind: str,
        status: str,
        at: float,
        start: datetime | None,
        end: datetime | None,
        logged_rows: int | None,
        labelled_rows: int | None,
        detail: dict[str, Any],
    ) -> int:
        values = {
            "model": model, "version": version, "kind": kind, "status": status, "at": at,
            "window_start": _seconds(start), "window_end": _seconds(end),
            "logged_rows": logged_rows, "labelled_rows": labelled_rows,
            "detail": json.dumps(_finite(detail), allow_nan=False, default=str),
        }  # fmt: skip

        def change(conn: Connection) -> int:
            result = conn.execute(insert(monitor_evaluations).values(**values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        return self.store.write(change)

    def recent(self, model: str | None = None, limit: int = 50) -> list[EvaluationRow]:
        """The newest evaluations first (of one model, or all)."""
        query = select(monitor_evaluations).order_by(monitor_evaluations.c.id.desc()).limit(limit)
        if model is not None:
            query = query.where(monitor_evaluations.c.model == model)

        def run(conn: Connection) -> list[EvaluationRow]:
            return [_row(r) for r in conn.execute(query)]

        return self.store.read(run)
