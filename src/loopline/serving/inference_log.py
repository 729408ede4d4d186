"""The inference log: a sampled share of requests (features, outputs, model version, time,
request id) written as Parquet segments for monitoring, and ground-truth feedback joined to
them later by request id.

Sampling and queueing are the only work on the hot path; a background thread turns the queue
into Parquet files (written aside and renamed in, so a reader never sees half a file). The queue
is bounded in rows: when the writer falls behind, new records are dropped and counted rather than
growing memory.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from loopline.core.atomic import temp_path_for
from loopline.core.errors import InvalidInput

__all__ = [
    "FeedbackEntry",
    "InferenceLog",
    "default_log_root",
    "logged_row_counts",
    "project_log_root",
    "read_feedback",
    "read_inference_log",
    "record_feedback",
    "unlogged_request_ids",
    "write_feedback",
]

log = logging.getLogger(__name__)
# The log's own columns; a feature of the same name is stored as "feature:<name>".
RESERVED_COLUMNS = frozenset(
    {
        "request_id",
        "row",
        "timestamp",
        "model_name",
        "model_version",
        "prediction",
        "probabilities",
        "variant",
        "shadow",
    }
)
_sequence = itertools.count()


@dataclass(frozen=True, slots=True)
class _Record:
    request_id: str
    timestamp: float
    model_name: str
    model_version: str
    columns: tuple[str, ...]
    values: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray | None
    variant: str = ""  # the deployment variant that answered ("" outside deployments)
    shadow: bool = False  # a copy sent to the shadow variant, never returned to the client


@dataclass(frozen=True)
class FeedbackEntry:
    """The true outcome for a logged request: one label, or one per row of the request."""

    request_id: str
    labels: tuple[Any, ...]


def default_log_root() -> Path:
    from loopline.core.errors import NotFound
    from loopline.core.project import DOT_DIR, find_project_root

    try:
        return find_project_root() / DOT_DIR / "serving"
    except NotFound:
        return Path.cwd() / DOT_DIR / "serving"


def project_log_root() -> Path:
    """The inference log of the project around the current folder; outside a project there is
    none (as for the metadata store), and the caller must name the server's --log-dir."""
    from loopline.core.errors import NotFound
    from loopline.core.project import DOT_DIR, find_project_root

    try:
        return find_project_root() / DOT_DIR / "serving"
    except NotFound:
        raise NotFound(
            f"no Loopline project at or above {Path.cwd()}, so there is no inference log here",
            hint="pass --log-dir (the server's --log-dir), or run this inside the project",
        ) from None


class InferenceLog:
    def __init__(
        self,
        root: Path,
        sample_rate: float,
        *,
        max_pending_rows: int = 200_000,
        flush_rows: int = 20_000,
        flush_interval_s: float = 2.0,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.root = root
        self.sample_rate = sample_rate
        self.max_pending_rows = max_pending_rows
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._on_drop = on_drop
        self._pending: deque[_Record] = deque()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.sample_rate > 0.0

    def offer(
        self,
        request_id: str,
        model_name: str,
        model_version: str,
        columns: tuple[str, ...],
        values: np.ndarray,
        outputs: dict[str, np.ndarray],
        *,
        variant: str = "",
        shadow: bool = False,
        sampled: bool | None = None,
    ) -> None:
        """Queue one answered request if it falls in the sample (cheap; never blocks).
        ``sampled`` overrides the coin flip (a shadow copy follows its primary's draw)."""
        if sampled is None:
            sampled = self.sample(request_id)
        if not sampled:
            return
        rows = values.shape[0]
        predictions = outputs.get("predict")
        if predictions is None:
            return
        with self._lock:
            if self._pending_rows + rows > self.max_pending_rows:
                if self._on_drop is not None:
                    self._on_drop(rows)
                return
            self._pending.append(
                _Record(
                    request_id,
                    time.time(),
                    model_name,
                    model_version,
                    columns,
                    values,
                    predictions,
                    outputs.get("predict_proba"),
                    variant,
                    shadow,
                )
            )
            self._pending_rows += rows
            if self._pending_rows >= self.flush_rows:
                self._wake.set()

    def sample(self, request_id: str) -> bool:
        """Whether a request is in the sample."""
        return self.sample_rate > 0.0 and (
            self.sample_rate >= 1.0 or random.random() < self.sample_rate
        )

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="inference-log-writer", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the writer and write what is queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def flush(self) -> list[Path]:
        with self._lock:
            records = list(self._pending)
            self._pending.clear()
            self._pending_rows = 0
        groups: dict[tuple[str, str, tuple[str, ...], int, str, bool], list[_Record]] = {}
        for record in records:
            key = (
                record.model_name, record.model_version, record.columns, record.values.shape[1],
                record.variant, record.shadow,
            )  # fmt: skip
            groups.setdefault(key, []).append(record)
        written = []
        for group in groups.values():
            try:
                written.append(self._write(group))
            except Exception as exc:  # one bad segment must not stop the log for good
                log.error("could not write the inference log under %s: %s", self.root, exc)
                if self._on_drop is not None:
                    self._on_drop(sum(r.values.shape[0] for r in group))
        return written

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep writing later segments whatever happened to this one
                log.exception("the inference log writer failed; it keeps running")

    def _write(self, records: list[_Record]) -> Path:
        import pyarrow as pa

        first = records[0]
        names = first.columns or tuple(f"f{i}" for i in range(first.values.shape[1]))
        values = np.concatenate([r.values for r in records])
        rows = [r.values.shape[0] for r in records]
        table: dict[str, Any] = {
            "request_id": np.repeat([r.request_id for r in records], rows),
            "row": np.concatenate([np.arange(n, dtype=np.int32) for n in rows]),
            "timestamp": pa.array(
                np.repeat([int(r.timestamp * 1e6) for r in records], rows),
                pa.timestamp("us", tz="UTC"),
            ),
            "model_name": np.repeat(first.model_name, len(values)),
            "model_version": np.repeat(first.model_version, len(values)),
        }
        if first.variant:
            table["variant"] = np.repeat(first.variant, len(values))
            table["shadow"] = np.repeat(first.shadow, len(values))
        for index, name in enumerate(names):
            column = f"feature:{name}" if name in RESERVED_COLUMNS else name
            table[column] = _arrow_column(values[:, index])
        table["prediction"] = np.concatenate([r.predictions for r in records])
        if all(r.probabilities is not None for r in records):
            probabilities = np.concatenate([r.probabilities for r in records])
            table["probabilities"] = pa.array(list(probabilities))
        folder = self.root / "inference" / _safe(first.model_name)
        return _write_segment(pa.table(table), folder)


def _arrow_column(values: np.ndarray) -> Any:
    """A feature column for Parquet; mixed Python values in one column become text."""
    import pyarrow as pa

    if values.dtype != object:
        return values
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_feedback(root: Path, entries: Sequence[FeedbackEntry]) -> Path:
    """Record true labels for request ids (durable when this returns)."""
    import pyarrow as pa

    if not entries:
        raise InvalidInput("no feedback given", hint='send {"request_id": ..., "label": ...}')
    request_ids, rows, numbers, texts = [], [], [], []
    for entry in entries:
        for row, label in enumerate(entry.labels):
            request_ids.append(entry.request_id)
            rows.append(row)
            if isinstance(label, bool):  # true/false match a classifier's 1/0
                label = int(label)
            is_number = isinstance(label, int | float)
            numbers.append(float(label) if is_number else None)
            texts.append(None if label is None else str(label))
    now = int(time.time() * 1e6)
    table = pa.table(
        {
            "request_id": pa.array(request_ids, pa.string()),
            "row": pa.array(rows, pa.int32()),
            "timestamp": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            "label": pa.array(numbers, pa.float64()),
            "label_text": pa.array(texts, pa.string()),
        }
    )
    return _write_segment(table, root / "feedback")


def record_feedback(
    request_id: str, label: Any, *, labels: Sequence[Any] | None = None, log_dir: Path | None = None
) -> Path:
    """The Python face of ``POST /feedback``: the true ``label`` of a served request (or
    ``labels``, one per row), by the request id the server returned in ``x-request-id``."""
    entry = FeedbackEntry(request_id, tuple(labels) if labels is not None else (label,))
    return write_feedback(log_dir or default_log_root(), [entry])


def read_inference_log(
    root: Path, model_name: str | None = None, *, columns: Sequence[str] | None = None
) -> Any:
    """All logged requests (of one model, or all) as one ``pyarrow.Table``; ``columns`` reads
    only those of the named columns a segment has (much less I/O for wide feature tables)."""
    folder = root / "inference" / (_safe(model_name) if model_name else "")
    return _read_segments(folder, columns)


def unlogged_request_ids(root: Path, request_ids: Sequence[str]) -> list[str]:
    """The ``request_ids`` (in their order) that no inference log segment under ``root`` holds:
    labels for them cannot be joined to a logged prediction."""
    import pyarrow.parquet as pq

    wanted = set(request_ids)
    for segment in sorted((root / "inference").rglob("*.parquet")):
        column = pq.read_table(segment, columns=["request_id"]).column("request_id")
        wanted.difference_update(column.unique().to_pylist())
        if not wanted:
            break
    return [rid for rid in dict.fromkeys(request_ids) if rid in wanted]


def logged_row_counts(root: Path, request_ids: Sequence[str]) -> dict[str, int]:
    """The number of rows each of ``request_ids`` has in the inference log (its answered rows;
    shadow copies are not counted); ids the log does not hold are left out."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = list(dict.fromkeys(request_ids))
    value_set = _string_array(wanted)
    counts: dict[str, int] = {}
    for segment in sorted((root / "inference").rglob("*.parquet")):
        has_shadow = "shadow" in pq.read_schema(segment).names
        table = pq.read_table(
            segment, columns=["request_id", "shadow"] if has_shadow else ["request_id"]
        )
        if has_shadow:
            table = table.filter(pc.invert(pc.fill_null(table.column("shadow"), False)))
        ids = table.column("request_id")
        for pair in pc.value_counts(ids.filter(pc.is_in(ids, value_set=value_set))).to_pylist():
            counts[pair["values"]] = counts.get(pair["values"], 0) + pair["counts"]
    return {rid: counts[rid] for rid in wanted if rid in counts}


def _string_array(values: Sequence[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def read_feedback(root: Path) -> Any:
    return _read_segments(root / "feedback")


def _read_segments(folder: Path, columns: Sequence[str] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return pa.table({})
    if columns is None:
        tables = [pq.read_table(f) for f in files]
    else:
        tables = []
        for f in files:
            present = set(pq.read_schema(f).names)
            tables.append(pq.read_table(f, columns=[c for c in columns if c in present]))
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A whole-number column an older server logged as float64 beside exact int64 segments
        # reads as float64 (as it was logged); other conflicts are errors, as before.
        mended = [_floats_for_mixed(t, tables) for t in tables]
        return pa.concat_tables(mended, promote_options="default")


def _floats_for_mixed(table: Any, tables: list[Any]) -> Any:
    import pyarrow as pa

    floats = {f.name for t in tables for f in t.schema if pa.types.is_floating(f.type)}
    for index, field in enumerate(table.schema):
        if field.name in floats and pa.types.is_integer(field.type):
            column = table.column(index).cast(pa.float64(), safe=False)
            table = table.set_column(index, pa.field(field.name, pa.float64()), column)
    return table


def _write_segment(table: Any, folder: Path) -> Path:
    import pyarrow.parquet as pq

    now = datetime.now(UTC)
    day = folder / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    name = f"{now.strftime('%H%M%S%f')}-{os.getpid()}-{next(_sequence)}.parquet"
    final = day / name
    temp = temp_path_for(final)
    pq.write_table(table, temp)
    os.replace(temp, final)
    return final


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
