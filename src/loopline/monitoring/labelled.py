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
    labels = _labels_in_order(feedback)
    keys = _RowKeys(log, labels)
    label_keys = keys.of(labels)
    kept = _last_of_each(label_keys)  # positions into labels, in arrival order
    known = np.isin(label_keys[kept], keys.of(log)) if log.num_rows else np.zeros(len(kept), bool)
    unmatched_at = kept[~known]
    examples = labels.column("request_id").take(unmatched_at[: _EXAMPLES * 20]).to_pylist()
    joined = _inner_join(window, keys.of(window), labels, label_keys, kept[known])
    labelled = _as_numpy({name: joined.column(name) for name in joined.column_names})
    logged = {
        "timestamp": _micros(window.column("timestamp")) if window.num_rows else np.zeros(0),
    }
    return LabelledPredictions(
        logged,
        labelled,
        len(unmatched_at),
        tuple(dict.fromkeys(examples))[:_EXAMPLES],
        labels.num_rows - len(kept),
        _distinct(window.column("request_id")),
        _distinct(joined.column("request_id")),
    )


class _RowKeys:
    """One int64 per (request_id, row): the request id's position among the distinct ids of
    the log and the labels, times the row count bound, plus the row. Comparing integers is
    several times faster than joining on strings."""

    def __init__(self, log: Any, labels: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = [t.column("request_id") for t in (log, labels) if t.num_rows]
        chunks = [c for column in ids for c in column.chunks]
        self.ids = pc.unique(pa.chunked_array(chunks, pa.string())) if chunks else None
        rows = [pc.max(t.column("row")).as_py() for t in (log, labels) if t.num_rows]
        self.bound = int(max(rows, default=0)) + 1

    def of(self, table: Any) -> np.ndarray:
        import pyarrow.compute as pc

        if table.num_rows == 0 or self.ids is None:
            return np.zeros(0, dtype=np.int64)
        position = pc.index_in(table.column("request_id"), value_set=self.ids)
        found = np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.int64)
        rows = np.asarray(table.column("row").to_numpy(), dtype=np.int64)
        return found * self.bound + rows


def _labels_in_order(feedback: Any) -> Any:
    """The feedback's labels, oldest first (so that the last of a row is the one that counts)."""
    import pyarrow as pa

    if feedback.num_rows == 0:
        return pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "row": pa.array([], pa.int32()),
                "label": pa.array([], pa.float64()),
                "label_text": pa.array([], pa.string()),
            }
        )
    table = feedback.select([*_KEYS, "timestamp", "label", "label_text"])
    return table.sort_by([("timestamp", "ascending")]).select([*_KEYS, "label", "label_text"])


def _last_of_each(keys: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each key, in ascending order."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first_from_end = np.unique(keys[::-1], return_index=True)
    return np.sort(len(keys) - 1 - first_from_end)


def _inner_join(
    window: Any, window_keys: np.ndarray, labels: Any, label_keys: np.ndarray, usable: np.ndarray
) -> Any:
    """Window rows with their labels, in window order (positions, not an Arrow join: Arrow
    joins carry no list columns such as ``probabilities``)."""
    import pyarrow as pa

    if window.num_rows == 0 or len(usable) == 0:
        return _empty_join(window)
    order = np.argsort(label_keys[usable], kind="stable")
    sorted_keys = label_keys[usable][order]
    slot = np.minimum(np.searchsorted(sorted_keys, window_keys), len(sorted_keys) - 1)
    hit = sorted_keys[slot] == window_keys
    at_label = usable[order[slot[hit]]]
    rows = window.take(pa.array(np.flatnonzero(hit)))
    chosen = labels.take(pa.array(at_label))
    return rows.append_column("label", chosen.column("label")).append_column(
        "label_text", chosen.column("label_text")
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
