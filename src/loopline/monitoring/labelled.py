"""Delayed labels joined to logged predictions.

Feedback (``POST /feedback``, ``loopline feedback``) is a table of ``request_id``, ``row``,
``timestamp``, ``label`` (numbers) and ``label_text`` (every label as text); the inference log has
one row per predicted row with ``request_id``, ``row``, ``timestamp``, ``model_name``,
``model_version``, ``prediction`` and, for classifiers, ``probabilities``. They meet on
``(request_id, row)``:

- a label given twice for the same row counts once: the one recorded last wins
  (``superseded_labels`` counts the older ones);
- a label whose request id (or row) is in no model's log is never silently dropped: it is counted
  in ``unmatched_labels`` with a few example ids. Such labels belong to requests that were not
  sampled into the log, to rows a request did not have, or to ids the server never issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["LabelledPredictions", "join_labels"]

_KEYS = ["request_id", "row"]
_EXAMPLES = 5


@dataclass(frozen=True)
class LabelledPredictions:
    """The logged rows of one model in one window and the labels that have arrived for them.

    ``logged`` holds the answer times of every logged row of the window (``timestamp``, µs);
    ``labelled`` the rows that have a label, with ``label`` (float, NaN when the label is text)
    and ``label_text``; ``logged_requests`` and ``labelled_requests`` count distinct request ids.
    """

    logged: dict[str, np.ndarray]
    labelled: dict[str, Any]
    unmatched_labels: int
    unmatched_examples: tuple[str, ...]
    superseded_labels: int
    logged_requests: int = 0
    labelled_requests: int = 0

    @property
    def logged_rows(self) -> int:
        return len(self.logged["timestamp"])

    @property
    def labelled_rows(self) -> int:
        return len(self.labelled["request_id"])


def join_labels(
    log: Any,
    feedback: Any,
    model: str,
    *,
    version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> LabelledPredictions:
    """Rows of ``model`` (and ``version``) logged in ``[start, end)`` with their labels.

    ``log`` is the inference log as read by ``read_inference_log`` — of every model, so that
    labels of other models' requests are not reported as unmatched; ``feedback`` as read by
    ``read_feedback``. Both are ``pyarrow.Table`` objects; either may be empty."""
    window = _window_rows(log, model, version, start, end)
    labels, superseded = _latest_labels(feedback)
    if labels.num_rows and log.num_rows:
        unmatched = labels.join(log.select(_KEYS), _KEYS, join_type="left anti")
    else:
        unmatched = labels
    examples = tuple(dict.fromkeys(unmatched.column("request_id").to_pylist()))[:_EXAMPLES]
    joined = _inner_join(window, labels) if window.num_rows and labels.num_rows else None
    if joined is None:
        joined = _empty_join(window)
    labelled = _as_numpy({name: joined.column(name) for name in joined.column_names})
    logged = {
        "timestamp": _micros(window.column("timestamp")) if window.num_rows else np.zeros(0),
    }
    return LabelledPredictions(
        logged,
        labelled,
        unmatched.num_rows,
        examples,
        superseded,
        _distinct(window.column("request_id")),
        _distinct(joined.column("request_id")),
    )


def _distinct(column: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.count_distinct(column).as_py()) if len(column) else 0


def _window_rows(
    log: Any, model: str, version: str | None, start: datetime | None, end: datetime | None
) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if log.num_rows == 0:
        return pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "row": pa.array([], pa.int32()),
                "timestamp": pa.array([], pa.timestamp("us", tz="UTC")),
                "model_version": pa.array([], pa.string()),
                "prediction": pa.array([], pa.float64()),
            }
        )
    mask = pc.equal(log.column("model_name"), model)
    if version is not None:
        mask = pc.and_(mask, pc.equal(log.column("model_version"), version))
    stamp = log.column("timestamp")
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(stamp, pa.scalar(start, stamp.type)))
    if end is not None:
        mask = pc.and_(mask, pc.less(stamp, pa.scalar(end, stamp.type)))
    columns = ["request_id", "row", "timestamp", "model_version", "prediction"]
    if "probabilities" in log.column_names:
        columns.append("probabilities")
    return log.filter(mask).select(columns)


def _latest_labels(feedback: Any) -> tuple[Any, int]:
    import pyarrow as pa

    if feedback.num_rows == 0:
        empty = pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "row": pa.array([], pa.int32()),
                "label": pa.array([], pa.float64()),
                "label_text": pa.array([], pa.string()),
            }
        )
        return empty, 0
    table = feedback.select([*_KEYS, "timestamp", "label", "label_text"])
    table = table.sort_by([("timestamp", "ascending")])
    table = table.append_column("_order", pa.array(np.arange(table.num_rows)))
    latest = table.group_by(_KEYS).aggregate([("_order", "max")])
    kept = table.take(latest.column("_order_max")).select([*_KEYS, "label", "label_text"])
    return kept, table.num_rows - kept.num_rows


def _inner_join(window: Any, labels: Any) -> Any:
    """Window rows with their labels (Arrow joins carry no list columns, so join positions)."""
    import pyarrow as pa

    positions = window.select(_KEYS).append_column("_at", pa.array(np.arange(window.num_rows)))
    matched = positions.join(labels, _KEYS, join_type="inner").sort_by("_at")
    rows = window.take(matched.column("_at"))
    return rows.append_column("label", matched.column("label")).append_column(
        "label_text", matched.column("label_text")
    )


def _empty_join(window: Any) -> Any:
    import pyarrow as pa

    empty = window.slice(0, 0)
    return empty.append_column("label", pa.array([], pa.float64())).append_column(
        "label_text", pa.array([], pa.string())
    )


def _micros(column: Any) -> np.ndarray:
    import pyarrow as pa

    return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _as_numpy(columns: dict[str, Any]) -> dict[str, Any]:
    import pyarrow as pa

    found: dict[str, Any] = {}
    for name, column in columns.items():
        if name == "timestamp":
            found[name] = _micros(column) if len(column) else np.zeros(0, dtype=np.int64)
        elif name == "probabilities":
            found[name] = column  # kept as Arrow: rows may be missing or differ in width
        elif name == "label":
            found[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            found[name] = np.asarray(column.to_pylist(), dtype=object)
        else:
            found[name] = column.to_numpy(zero_copy_only=False)
    return found
