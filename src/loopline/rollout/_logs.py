"""Reading only the inference-log and feedback segments a time window can need.

The servers write one Parquet segment per flush (and one per ``POST /feedback``) under
``<root>/inference/<model>/<YYYY-MM-DD>/HHMMSSffffff-...parquet`` and
``<root>/feedback/<YYYY-MM-DD>/...`` (UTC write time). A segment holds only records from
before it was written, so a segment written before a window began cannot hold a request of
that window — nor a label for one. Segments never change once written, so a long-running
controller keeps the ones it read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["inference_folder", "read_window_segments", "segment_written_at"]

_CACHE: OrderedDict[tuple[str, tuple[str, ...] | None], Any] = OrderedDict()
_CACHE_LIMIT = 20_000


def inference_folder(root: Path, model_name: str) -> Path:
    """Where the servers write a model's (or deployment's) inference segments."""
    from loopline.serving.inference_log import _safe

    return root / "inference" / _safe(model_name)


def segment_written_at(path: Path) -> float | None:
    """The UTC write time in a segment's day folder and file name (``None`` if unknown)."""
    try:
        stamp = datetime.strptime(f"{path.parent.name} {path.name[:12]}", "%Y-%m-%d %H%M%S%f")
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC).timestamp()


def _days(folder: Path, since: float | None) -> list[Path]:
    if not folder.is_dir():
        return []
    days = sorted(p for p in folder.iterdir() if p.is_dir())
    if since is None:
        return days
    first = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d")
    # Folders that are not dates are kept (read in full) rather than guessed about.
    return [d for d in days if not _is_day(d.name) or d.name >= first]


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return False
    return True


# Servers sharing one log folder may disagree a little about the time: keep a margin.
CLOCK_SKEW = 300.0


def _files(folder: Path, since: float | None) -> list[Path]:
    if since is not None:
        since -= CLOCK_SKEW
    files: list[Path] = []
    for day in _days(folder, since):
        for path in sorted(day.glob("*.parquet")):
            written = segment_written_at(path)
            if since is None or written is None or written >= since:
                files.append(path)
    if folder.is_dir():  # segments outside day folders (older layouts): always read
        files.extend(sorted(folder.glob("*.parquet")))
    return files


def _read(path: Path, columns: Sequence[str] | None) -> Any:
    import pyarrow.parquet as pq

    key = (str(path), _key(columns))
    table = _CACHE.get(key)
    if table is not None:
        _CACHE.move_to_end(key)
        return table
    if columns is None:
        table = pq.read_table(path)
    else:
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in columns if c in present])
    _CACHE[key] = table
    while len(_CACHE) > _CACHE_LIMIT:
        _CACHE.popitem(last=False)
    return table


def read_window_segments(
    folder: Path, *, since: float | None = None, columns: Sequence[str] | None = None
) -> Any:
    """The segments under ``folder`` written at or after ``since`` (all without), as one
    table; each segment is read once per process."""
    import pyarrow as pa

    files = _files(folder, since)
    if not files:
        return pa.table({})
    missing = [f for f in files if (str(f), _key(columns)) not in _CACHE]
    if len(missing) > 64 and columns is None:
        # Many small segments of one schema (feedback): one multi-threaded scan is several
        # times faster than a read per file.
        bulk = _scan(files)
        if bulk is not None:
            return bulk
    return pa.concat_tables([_read(f, columns) for f in files], promote_options="default")


def _key(columns: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(columns) if columns is not None else None


def _scan(files: list[Path]) -> Any:
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        return ds.dataset([str(f) for f in files], format="parquet").to_table()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None  # schemas differ: read file by file and unify
