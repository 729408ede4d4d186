"""Reading a served model's window from a real inference log written by the server's writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopline.core.errors import InvalidInput, NotFound
from loopline.monitoring.drift import DriftDetector
from loopline.monitoring.served import parse_time, parse_window, read_log_window, served_drift
from loopline.serving.inference_log import InferenceLog


def _log(root: Path) -> None:
    log = InferenceLog(root, 1.0)
    rng = np.random.default_rng(0)
    for version, rows in (("1", 50), ("2", 80)):
        # "prediction" is also a feature name here: the log stores it as "feature:prediction".
        values = rng.normal(size=(rows, 2))
        outputs = {"predict": (values[:, 0] > 0).astype(np.int64)}
        log.offer(f"r{version}", "churn", version, ("age", "prediction"), values, outputs)
        log.flush()
    other = np.zeros((5, 2))
    log.offer("x", "fraud", "1", ("age", "prediction"), other, {"predict": np.zeros(5)})
    log.flush()


def test_window_picks_the_newest_version_and_restores_feature_names(tmp_path: Path) -> None:
    _log(tmp_path)
    window = read_log_window(tmp_path, "churn", since=datetime.now(UTC) - timedelta(hours=1))
    assert window.version == "2" and window.table.num_rows == 80
    assert set(window.versions_seen) == {"1", "2"}
    assert window.table.column_names == ["age", "prediction", "output:prediction"]
    first = read_log_window(tmp_path, "churn", version="1")
    assert first.table.num_rows == 50
    past = read_log_window(tmp_path, "churn", until=datetime.now(UTC) - timedelta(days=1))
    assert past.table.num_rows == 0


def test_too_few_rows_gives_no_verdict(tmp_path: Path) -> None:
    _log(tmp_path)
    window = read_log_window(tmp_path, "churn", version="1")
    reference = pa.table({"age": np.zeros(10)})
    result = served_drift(window, reference, "ref", DriftDetector(columns=["age"]), min_rows=100)
    assert not result.decided and result.to_dict()["drift"] is None
    assert "holds 50 rows of churn version 1; at least 100 are needed" in result.message()


def test_unknown_model_and_bad_times(tmp_path: Path) -> None:
    _log(tmp_path)
    with pytest.raises(NotFound, match="no requests of model 'ghost'"):
        read_log_window(tmp_path, "ghost")
    assert parse_window("90m") == timedelta(minutes=90)
    for text in ("soon", "0h", "-1h", "1y"):
        with pytest.raises(InvalidInput, match="is not a duration"):
            parse_window(text)
    assert parse_time("2026-12-01T08:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="is not a time"):
        parse_time("yesterday")
