"""Evaluation records on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from loopline.monitoring._sql import SqlEvaluations
from loopline.store import open_store


def test_evaluations_round_trip_newest_first(store_url: str) -> None:
    store = open_store(store_url)
    try:
        records = SqlEvaluations(store)
        start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
        first = records.record(
            model="churn", version="3", kind="performance", status="ok", at=1.0, start=start,
            end=end, logged_rows=100, labelled_rows=40,
            detail={"metrics": {"accuracy": 0.9, "log_loss": math.nan}},
        )  # fmt: skip
        second = records.record(
            model="fraud", version=None, kind="drift", status="drift", at=2.0, start=None,
            end=None, logged_rows=None, labelled_rows=None, detail={"drift_share": 0.75},
        )  # fmt: skip
        assert second > first
        assert [r.model for r in records.recent()] == ["fraud", "churn"]
        churn = records.recent("churn")[0]
        assert churn.window_start == start.timestamp() and churn.labelled_rows == 40
        assert churn.detail == {"metrics": {"accuracy": 0.9, "log_loss": None}}
        assert records.recent("nobody") == []
    finally:
        store.close()
