"""Drift of a served model: its inference-log window against the data it was trained on.

The current table is a window of the inference log (one model, one version); its feature
columns are compared with the reference, by default the training data the version's run recorded
as data inputs (found in the object cache by content id, so later edits of the file do not
change the reference). The logged predictions are compared too: with the version's own
predictions on the reference (``reference_predictions``), or the reference's ``prediction``
column when it has one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loopline.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

    from loopline.monitoring.drift import DriftDetector, DriftReport

__all__ = [
    "LogWindow",
    "ServedDriftResult",
    "lineage_reference",
    "parse_time",
    "parse_window",
    "read_log_window",
    "reference_predictions",
    "served_drift",
    "training_reference",
]

# Columns the inference log adds around the features (see loopline.serving.inference_log).
LOG_COLUMNS = frozenset(
    {
        "request_id",
        "row",
        "timestamp",
        "model_name",
        "model_version",
        "probabilities",
        "variant",
        "shadow",
    }
)
# The model's output in a window: judged only when the reference has it too.
OUTPUT_COLUMNS = frozenset({"prediction", "output:prediction"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> timedelta:
    """``30m``, ``1h``, ``7d``..."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidInput(
            f"window {text!r} is not a duration", hint="write e.g. 30m, 1h, 1d or 1w"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (UTC when no zone is given), or a duration meaning that long ago."""
    if _DURATION.match(text):
        return datetime.now(UTC) - parse_window(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a time", hint="write e.g. 2026-12-01T08:00 or 2h (two hours ago)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LogWindow:
    """The logged rows of one model version between two times, features renamed back."""

    model: str
    version: str
    start: datetime | None
    end: datetime
    table: pa.Table
    versions_seen: tuple[str, ...]


def read_log_window(
    log_root: Path,
    model: str,
    *,
    version: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> LogWindow:
    """Rows of ``model`` logged in [since, until); ``version`` defaults to the newest one seen."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loopline.serving.inference_log import read_inference_log

    end = until or datetime.now(UTC)
    if since is not None and since >= end:
        raise InvalidInput(
            f"the window starts ({since.isoformat()}) at or after it ends ({end.isoformat()})",
            hint="give --since an earlier time than --until (or than now)",
        )
    if not log_root.is_dir():
        raise NotFound(
            f"the inference log folder {log_root} does not exist",
            hint="point --log-dir at the folder the server logs into (its --log-dir)",
        )
    table = read_inference_log(log_root, model)
    if table.num_rows == 0:
        raise NotFound(
            f"the inference log at {log_root} holds no requests of model {model!r}",
            hint="serve the model with request logging on (log_sample_rate > 0), "
            "or point --log-dir at its log",
        )
    table = table.filter(pc.equal(table.column("model_name"), model))
    if version is not None:
        logged = sorted(str(v) for v in pc.unique(table.column("model_version")).to_pylist())
        if version not in logged:
            raise NotFound(
                f"version {version} of {model!r} has no logged requests at all "
                f"(logged versions: {', '.join(logged[:20]) or 'none'})",
                hint="choose one of the logged versions with --version",
            )
    stamps = table.column("timestamp")
    keep = pc.less(stamps, pa.scalar(end, stamps.type))
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(stamps, pa.scalar(since, stamps.type)))
    if "shadow" in table.column_names:  # a deployment's shadow copies were not served
        keep = pc.and_(keep, pc.invert(pc.fill_null(table.column("shadow"), False)))
    table = table.filter(keep)
    seen = tuple(str(v) for v in pc.unique(table.column("model_version")).to_pylist())
    if version is None and table.num_rows:
        kept = table.column("timestamp")
        newest = pc.index(kept, pc.max(kept))
        version = str(table.column("model_version")[newest.as_py()].as_py())
    version = version or ""
    table = table.filter(pc.equal(table.column("model_version"), version))
    features = [c for c in table.column_names if c not in LOG_COLUMNS]
    renamed = [c.removeprefix("feature:") for c in features]
    if "feature:prediction" in features and "prediction" in features:
        # A feature named "prediction" gets its name back; the model's output gives way.
        renamed[features.index("prediction")] = "output:prediction"
    return LogWindow(
        model, version, since, end, table.select(features).rename_columns(renamed), seen
    )


def training_reference(
    model: str, version: str, feature_names: Sequence[str], *, tracking_uri: str | None = None
) -> tuple[pa.Table, str]:
    """The table the version was trained on, through lineage: registry version → run → the
    run's data inputs. Among tabular inputs, the one holding most of ``feature_names``."""
    from loopline.monitoring.tables import read_table
    from loopline.registry import RegistryClient

    lineage = RegistryClient(tracking_uri).lineage(model, version)
    if lineage.run_id is None:
        raise NotFound(
            f"model {model} version {version} has no run, so no recorded training data",
            hint="give the reference table with --reference FILE",
        )
    best: tuple[int, Path, str] | None = None
    changed: list[str] = []
    for path, oid in lineage.data:
        location = _locate(path, oid)
        if location == "changed":
            changed.append(path)
            continue
        if location is None:
            continue
        names = _column_names(location)
        overlap = len(set(names) & set(feature_names))
        if overlap and (best is None or overlap > best[0]):
            best = (overlap, location, path)
    if best is None and changed:
        raise NotFound(
            f"{', '.join(changed)} changed since run {lineage.run_id} read it, and the content "
            "the run read is not in the object cache",
            hint="restore it (`git checkout` its pointer, then `loopline checkout`), pull it "
            "(`loopline pull`), or give the reference table with --reference FILE",
        )
    if best is None:
        inputs = ", ".join(p for p, _ in lineage.data)
        hint = "give the reference table with --reference FILE"
        if inputs:
            hint += ", or pull the data (`loopline pull`) so its content is in the cache"
        raise NotFound(
            f"no training table of {model} version {version} holds its features "
            f"(run {lineage.run_id} recorded data inputs: {inputs or 'none'})",
            hint=hint,
        )
    _, location, path = best
    wanted = [n for n in feature_names if n in _column_names(location)]
    table = read_table(location, columns=wanted, role="training data")
    return table, f"training data {path} (run {lineage.run_id})"


def lineage_reference(
    logged: LogWindow,
    columns: Sequence[str] | None = None,
    *,
    tracking_uri: str | None = None,
) -> tuple[pa.Table, str, str | None]:
    """The reference of ``monitor report`` and ``monitor run`` alike: the version's training
    data (``columns`` of it, default every logged feature) with the version's own predictions
    on it, so that both judge prediction drift the same way. The third value says why
    prediction drift is skipped, when it is."""
    features = list(columns or logged.table.column_names)
    clash = "output:prediction" in logged.table.column_names  # a feature named "prediction"
    if not clash:
        features = [f for f in features if f != "prediction"]
    table, name = training_reference(
        logged.model, logged.version, features, tracking_uri=tracking_uri
    )
    if clash:
        return (
            table,
            name,
            (
                "prediction drift skipped: the model has a feature named 'prediction', which is "
                "judged as a feature"
            ),
        )
    if "prediction" not in logged.table.column_names or (
        columns is not None and "prediction" not in columns
    ):
        return table, name, None
    table, skipped = reference_predictions(logged.model, logged.version, table, features)
    return table, name, skipped


def _locate(path: str, oid: str) -> Path | Literal["changed"] | None:
    """The exact content the run saw: from the object cache, else the file in the project when
    its content id is still the one the run recorded; ``"changed"`` when that file differs."""
    from loopline.core.errors import LooplineError
    from loopline.data.workspace import Workspace
    from loopline.objects.build import build_object

    if not path.lower().endswith((".parquet", ".pq", ".parq", ".csv")):
        return None
    try:
        with Workspace() as workspace:
            cached, local = workspace.odb.path(oid), workspace.root / path
            if cached.is_file():
                return cached
            if not local.is_file():
                return None
            # Hashed as lineage hashed it (tracking.inputs), so equal content gives equal ids.
            built = build_object(
                workspace.root, path, workspace.state, jobs=workspace.settings.jobs
            )
    except LooplineError:
        return None
    return local if built.oid == oid else "changed"


def _column_names(path: Path) -> list[str]:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".csv":
            with pa_csv.open_csv(path) as reader:
                return list(reader.schema.names)
        return list(pq.read_schema(path).names)
    except Exception:
        try:
            with pa_csv.open_csv(path) as reader:
                return list(reader.schema.names)
        except Exception:
            return []


def reference_predictions(
    model: str, version: str, reference: pa.Table, feature_names: Sequence[str]
) -> tuple[pa.Table, str | None]:
    """The reference with the version's own predictions on it as a ``prediction`` column, so
    prediction drift compares like with like; unchanged, with the reason, when the model cannot
    be loaded or cannot predict on the reference here."""
    import pyarrow as pa

    from loopline.core.errors import LooplineError

    if "prediction" in reference.column_names:
        return reference, None
    try:
        from loopline.models.pyfunc import load_model

        loaded = load_model(f"models:/{model}/{version}")
        frame = reference.select(list(feature_names)).to_pandas()
        predicted = loaded.predict(frame)
        column = pa.array(getattr(predicted, "ravel", lambda: predicted)())
    except (LooplineError, ImportError, ValueError, TypeError, KeyError) as exc:
        return reference, f"prediction drift skipped: the model did not predict here ({exc})"
    if len(column) != reference.num_rows:
        return reference, "prediction drift skipped: the model did not give one value per row"
    return reference.append_column("prediction", column), None


@dataclass(frozen=True)
class ServedDriftResult:
    """The window, the reference and the verdict (``None`` when too few rows to decide)."""

    window: LogWindow
    reference: str
    n_current: int
    min_rows: int
    report: DriftReport | None

    @property
    def decided(self) -> bool:
        return self.report is not None

    def message(self) -> str:
        if self.report is None:
            which = (
                f"{self.window.model} version {self.window.version}"
                if self.window.version
                else f"{self.window.model} (no version logged in the window)"
            )
            return (
                f"the window holds {self.n_current} rows of {which}; at least {self.min_rows} "
                "are needed to decide"
            )
        return ""

    def to_dict(self) -> dict[str, Any]:
        window = self.window
        return {
            "model": window.model,
            "version": window.version,
            "window": {
                "start": window.start.isoformat() if window.start else None,
                "end": window.end.isoformat(),
            },
            "reference": self.reference,
            "rows": self.n_current,
            "decided": self.decided,
            "message": self.message() or None,
            "drift": self.report.to_dict() if self.report else None,
        }


def served_drift(
    window: LogWindow,
    reference: pa.Table | None,
    reference_name: str,
    detector: DriftDetector,
    *,
    min_rows: int = 100,
) -> ServedDriftResult:
    """Judge the window against the reference on the columns both hold; no verdict when the
    window has fewer than ``min_rows`` rows (``reference`` may then be None: not loaded)."""
    from loopline.monitoring.drift import DriftDetector

    current = window.table
    if current.num_rows < min_rows or reference is None:
        return ServedDriftResult(window, reference_name, current.num_rows, min_rows, None)
    shared = [c for c in current.column_names if c in reference.column_names]
    if detector.columns is None:
        missing = [c for c in current.column_names if c not in reference.column_names]
        missing = [c for c in missing if c not in OUTPUT_COLUMNS]
        if missing:
            raise InvalidInput(
                f"the reference ({reference_name}) lacks the logged features "
                f"{', '.join(map(repr, missing))}",
                hint="give a reference holding every feature the model receives, or choose "
                "columns with --columns",
            )
        detector = DriftDetector(
            numeric_test=detector.numeric_test,
            categorical_test=detector.categorical_test,
            thresholds=detector.thresholds,
            drift_share=detector.drift_share,
            categorical=detector.categorical,
            columns=shared,
            plots=detector.plots,
            workers=detector.workers,
            missing_threshold=detector.missing_threshold,
        )
    report = detector.run(reference, current)
    return ServedDriftResult(window, reference_name, current.num_rows, min_rows, report)
