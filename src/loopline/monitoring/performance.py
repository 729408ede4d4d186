"""Realized performance of a served model once its delayed labels arrive.

A window is chosen by the time a request was *answered*, never by the time its label arrived:
the same window evaluated later holds more labels (``labelled_share`` grows towards 1) and its
metrics settle. A window is judged only with at least ``min_labels`` labelled rows; below that
the result says ``insufficient_labels`` and carries no metric value. See ``labelled`` for how
labels meet predictions and ``_scores`` for the metric definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from loopline.core.errors import InvalidInput
from loopline.monitoring._scores import classification_scores, regression_scores
from loopline.monitoring.labelled import LabelledPredictions, join_labels

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "PerformanceBucket",
    "PerformanceMonitor",
    "PerformanceResult",
    "VersionComparison",
    "compare_versions",
    "evaluate_performance",
    "read_log_and_feedback",
]

Task = Literal["classification", "regression"]
Status = Literal["ok", "no_traffic", "no_labels", "insufficient_labels"]
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "mape")
# Lower is better for these; higher for every other metric.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mape"})
_MAX_BUCKETS = 2000
# The inference log columns performance needs (features are not read).
LOG_COLUMNS = (
    "request_id",
    "row",
    "timestamp",
    "model_name",
    "model_version",
    "prediction",
    "probabilities",
)


@dataclass(frozen=True)
class PerformanceBucket:
    start: datetime
    end: datetime
    logged_rows: int
    labelled_rows: int
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class PerformanceResult:
    model: str
    version: str | None
    start: datetime | None
    end: datetime | None
    task: Task | None
    status: Status
    message: str
    logged_rows: int
    labelled_rows: int
    labelled_share: float | None
    labelled_requests_share: float | None
    metrics: dict[str, float | None]
    notes: dict[str, str] = field(default_factory=dict)
    invalid_labels: int = 0
    unmatched_labels: int = 0
    unmatched_examples: tuple[str, ...] = ()
    superseded_labels: int = 0
    buckets: tuple[PerformanceBucket, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        for key in ("start", "end"):
            found[key] = _iso(found[key])
        found["unmatched_examples"] = list(self.unmatched_examples)
        found["buckets"] = [
            {**asdict(b), "start": _iso(b.start), "end": _iso(b.end)} for b in self.buckets
        ]
        return found


class PerformanceMonitor:
    """Judges labelled predictions of one model over one window.

    ``task``: ``classification`` or ``regression``; ``None`` infers it (classification when the
    log holds probabilities or the predictions are text, booleans or whole numbers).
    ``classes``: the model's classes in the order of its probability columns (default: the sorted
    union of the predictions and labels seen, scikit-learn's order). ``average``: how precision,
    recall and F1 average over more than two classes. ``min_labels``: labelled rows a window needs
    before it is judged. ``bucket``: also judge consecutive buckets of this length (performance
    over time), aligned to multiples of the length since the Unix epoch.
    """

    def __init__(
        self,
        *,
        task: Task | None = None,
        classes: Sequence[Any] | None = None,
        average: Literal["macro", "micro", "weighted"] = "macro",
        min_labels: int = 30,
        bucket: timedelta | None = None,
    ) -> None:
        if min_labels < 1:
            raise InvalidInput(f"min_labels must be at least 1, got {min_labels}")
        if bucket is not None and bucket <= timedelta(0):
            raise InvalidInput(f"the bucket length must be positive, got {bucket}")
        self.task = task
        self.classes = tuple(classes) if classes is not None else None
        self.average = average
        self.min_labels = min_labels
        self.bucket = bucket

    def evaluate(
        self,
        data: LabelledPredictions,
        *,
        model: str,
        version: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> PerformanceResult:
        rows = data.labelled
        task = self.task or (_infer_task(rows) if len(rows["prediction"]) else None)
        y_true, valid = _truth(rows, task)
        invalid = int((~valid).sum())
        keep = {k: (v.filter(valid) if k == "probabilities" else v[valid]) for k, v in rows.items()}
        labelled = int(valid.sum())
        status, message = self._status(data.logged_rows, labelled, invalid)
        metrics: dict[str, float | None] = dict.fromkeys(_names(task))
        notes: dict[str, str] = {}
        if status == "ok" and task is not None:
            metrics, notes = self._score(keep, y_true[valid], task)
        return PerformanceResult(
            model=model,
            version=version,
            start=start,
            end=end,
            task=task,
            status=status,
            message=message,
            logged_rows=data.logged_rows,
            labelled_rows=labelled,
            labelled_share=_share(labelled, data.logged_rows),
            labelled_requests_share=_share(_requests(keep, valid, data), data.logged_requests),
            metrics=metrics,
            notes=notes,
            invalid_labels=invalid,
            unmatched_labels=data.unmatched_labels,
            unmatched_examples=data.unmatched_examples,
            superseded_labels=data.superseded_labels,
            buckets=self._buckets(data, keep, y_true[valid], task, start, end),
        )

    # -- parts ------------------------------------------------------------------------------

    def _status(self, logged: int, labelled: int, invalid: int) -> tuple[Status, str]:
        spoilt = (
            f" ({invalid} labels could not be compared with the predictions)" if invalid else ""
        )
        if logged == 0:
            return "no_traffic", "no logged requests in the window: nothing to judge"
        if labelled == 0 and invalid:
            return "no_labels", (
                f"none of the {invalid} labels of the {logged} logged rows could be compared "
                "with the predictions (text labels for a model that predicts numbers?)"
            )
        if labelled == 0:
            return "no_labels", f"none of the {logged} logged rows has a label yet"
        if labelled < self.min_labels:
            return "insufficient_labels", (
                f"only {labelled} of {logged} logged rows have labels; at least "
                f"{self.min_labels} are needed to judge the window{spoilt}"
            )
        return "ok", f"{labelled} of {logged} logged rows labelled{spoilt}"

    def _score(
        self, rows: dict[str, Any], y_true: np.ndarray, task: Task
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        if task == "regression":
            try:
                predictions = _as_float(rows["prediction"])
            except (TypeError, ValueError):
                raise InvalidInput(
                    "the logged predictions are text, not numbers: they cannot be judged as a "
                    "regression",
                    hint="leave out --task regression (the model is a classifier)",
                ) from None
            return regression_scores(y_true, predictions)
        y_pred = _class_values(rows["prediction"], numeric=y_true.dtype != object)
        classes = self.classes or sorted(set(y_true.tolist()) | set(y_pred.tolist()))
        if self.classes is not None and y_true.dtype != object:
            classes = [_class_number(c) for c in self.classes]
        probabilities, reason = _probability_matrix(rows.get("probabilities"))
        scores, notes = classification_scores(y_true, y_pred, probabilities, classes, self.average)
        if reason:
            notes["roc_auc"] = notes["log_loss"] = reason
        return scores, notes

    def _buckets(
        self,
        data: LabelledPredictions,
        rows: dict[str, Any],
        y_true: np.ndarray,
        task: Task | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[PerformanceBucket, ...]:
        if self.bucket is None or data.logged_rows == 0:
            return ()
        width = int(self.bucket / timedelta(microseconds=1))
        logged_ts = data.logged["timestamp"]
        first = _micros(start) if start is not None else int(logged_ts.min())
        last = _micros(end) if end is not None else int(logged_ts.max()) + 1
        aligned = first - first % width
        count = -(-(last - aligned) // width)  # ceiling division, before allocating anything
        if count > _MAX_BUCKETS:
            raise InvalidInput(
                f"{count} buckets of {self.bucket} in the window are too many to report",
                hint=f"choose a longer bucket (at most {_MAX_BUCKETS} per window)",
            )
        edges = aligned + width * np.arange(count + 1, dtype=np.int64)
        logged_in = np.searchsorted(edges, logged_ts, side="right") - 1
        labelled_in = np.searchsorted(edges, rows["timestamp"], side="right") - 1
        found = []
        for index in range(len(edges) - 1):
            chosen = labelled_in == index
            count = int(chosen.sum())
            metrics: dict[str, float | None] = dict.fromkeys(_names(task))
            if count >= self.min_labels and task is not None:
                part = {
                    k: (v.filter(chosen) if k == "probabilities" else v[chosen])
                    for k, v in rows.items()
                }
                metrics = self._score(part, y_true[chosen], task)[0]
            found.append(
                PerformanceBucket(
                    _datetime(int(edges[index])),
                    _datetime(int(edges[index + 1])),
                    int((logged_in == index).sum()),
                    count,
                    metrics,
                )
            )
        return tuple(found)


# -- the whole step from files, and two versions side by side ----------------------------------


@dataclass(frozen=True)
class VersionComparison:
    """The same metrics for a champion and a challenger over the same window of labelled traffic.

    ``difference`` is challenger minus champion; ``better`` names the version that did better on
    each metric (``None`` when either side has no value or they tie)."""

    champion: PerformanceResult
    challenger: PerformanceResult
    difference: dict[str, float | None]
    better: dict[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
            "difference": self.difference,
            "better": self.better,
        }


def evaluate_performance(
    log_root: Path,
    model: str,
    *,
    version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    monitor: PerformanceMonitor | None = None,
) -> PerformanceResult:
    """Read the inference log and feedback under ``log_root`` (the server's ``--log-dir``) and
    judge ``model`` (one ``version`` or all) in ``[start, end)``."""
    log, feedback = read_log_and_feedback(log_root, model)
    data = join_labels(log, feedback, model, version=version, start=start, end=end)
    judge = monitor or PerformanceMonitor()
    result = judge.evaluate(data, model=model, version=version, start=start, end=end)
    return _explain_silence(result, log, log_root)


def compare_versions(
    log_root: Path,
    model: str,
    champion: str,
    challenger: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    monitor: PerformanceMonitor | None = None,
) -> VersionComparison:
    if champion == challenger:
        raise InvalidInput(
            f"the champion and the challenger are both version {champion}",
            hint="compare two different versions",
        )
    log, feedback = read_log_and_feedback(log_root, model)
    judge = monitor or PerformanceMonitor()
    sides = [
        _explain_silence(
            judge.evaluate(
                join_labels(log, feedback, model, version=v, start=start, end=end),
                model=model,
                version=v,
                start=start,
                end=end,
            ),
            log,
            log_root,
        )
        for v in (champion, challenger)
    ]
    difference: dict[str, float | None] = {}
    better: dict[str, str | None] = {}
    for name, ours in sides[0].metrics.items():
        theirs = sides[1].metrics.get(name)
        if ours is None or theirs is None:
            difference[name] = better[name] = None
            continue
        difference[name] = theirs - ours
        lead = (ours - theirs) if name in LOWER_IS_BETTER else (theirs - ours)
        better[name] = None if lead == 0 else (challenger if lead > 0 else champion)
    return VersionComparison(sides[0], sides[1], difference, better)


def _explain_silence(result: PerformanceResult, log: Any, log_root: Path) -> PerformanceResult:
    """Say so when the model (or version) never appears in the log at all: a typo is likelier
    than a quiet window."""
    if result.status != "no_traffic":
        return result
    if log.num_rows == 0:
        return replace(result, message=f"no inference log under {log_root}: nothing to judge")
    import pyarrow.compute as pc

    models = sorted(pc.unique(log.column("model_name")).to_pylist())
    if result.model not in models:
        return replace(
            result,
            message=f"model {result.model!r} has no logged requests at all "
            f"(the log holds {', '.join(models[:10])})",
        )
    if result.version is not None:
        mine = log.filter(pc.equal(log.column("model_name"), result.model))
        versions = sorted(pc.unique(mine.column("model_version")).to_pylist())
        if result.version not in versions:
            return replace(
                result,
                message=f"version {result.version} of {result.model!r} has no logged requests "
                f"at all (logged versions: {', '.join(versions[:20])})",
            )
    return result


def read_log_and_feedback(log_root: Path, model: str | None = None) -> tuple[Any, Any]:
    """The inference log and all feedback under ``log_root``.

    With ``model``, that model's rows keep their outputs while every other model contributes
    only its row keys (so labels of other models' requests still count as matched): models
    whose predictions have different types (one predicts classes, another numbers) share one
    log folder without their outputs ever meeting in one column. Without ``model``, only the
    row keys of every model are read."""
    import pyarrow as pa

    from loopline.serving.inference_log import _safe, read_feedback, read_inference_log

    keys = [c for c in LOG_COLUMNS if c not in ("prediction", "probabilities")]
    try:
        if model is None:
            log = read_inference_log(log_root, columns=keys)
        else:
            parts = [read_inference_log(log_root, model, columns=LOG_COLUMNS)]
            parts += [
                read_inference_log(log_root, name, columns=keys)
                for name in _model_folders(log_root)
                if name != _safe(model)
            ]
            parts = [p for p in parts if p.num_columns]
            log = pa.concat_tables(parts, promote_options="default") if parts else pa.table({})
            if log.num_rows and "prediction" not in log.column_names:
                # The model never logged: other models' keys only, an output column of nulls.
                log = log.append_column("prediction", pa.nulls(log.num_rows, pa.float64()))
        return log, read_feedback(log_root)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"the inference log under {log_root} has segments that do not fit together: {exc}",
            hint="move the odd segment files aside (the log of one model must keep one type "
            "of prediction)",
        ) from None


def _model_folders(log_root: Path) -> list[str]:
    """The names of the per-model folders of the inference log (already safe names)."""
    folder = log_root / "inference"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


# -- helpers ----------------------------------------------------------------------------------


def _requests(rows: dict[str, Any], valid: np.ndarray, data: LabelledPredictions) -> int:
    """Distinct requests with at least one usable label."""
    if valid.all():
        return data.labelled_requests
    return len(set(rows["request_id"].tolist()))


def _infer_task(rows: dict[str, Any]) -> Task:
    probabilities = rows.get("probabilities")
    if probabilities is not None and probabilities.null_count < len(probabilities):
        return "classification"
    predictions = rows["prediction"]
    if predictions.dtype == object or predictions.dtype.kind in "biu":
        return "classification"
    finite = predictions[np.isfinite(predictions)]
    return "classification" if np.all(finite == np.round(finite)) else "regression"


def _truth(rows: dict[str, Any], task: Task | None) -> tuple[np.ndarray, np.ndarray]:
    """True values comparable with the predictions, and which labelled rows are usable (a
    usable label and a prediction)."""
    predictions = rows["prediction"]
    if predictions.dtype == object:
        predicted = np.asarray([p is not None for p in predictions], dtype=bool)
    else:
        predicted = np.isfinite(np.asarray(predictions, dtype=np.float64))
    if task == "classification" and predictions.dtype == object:
        texts = rows["label_text"]
        return texts, predicted & np.asarray([t is not None for t in texts], dtype=bool)
    labels = rows["label"].copy()
    for index in np.flatnonzero(~np.isfinite(labels)):  # "1" sent as text is still the number 1
        labels[index] = _number(rows["label_text"][index])
    return labels, predicted & np.isfinite(labels)


def _class_number(value: Any) -> float:
    number = _number(str(value))
    if not np.isfinite(number):
        raise InvalidInput(
            f"class {value!r} is not a number, but the model predicts numbers",
            hint="give the classes as the model predicts them, e.g. --classes 0,1",
        )
    return number


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan


def _class_values(predictions: np.ndarray, *, numeric: bool) -> np.ndarray:
    if numeric:
        return _as_float(predictions)
    return np.asarray([None if p is None else str(p) for p in predictions], dtype=object)


def _as_float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _probability_matrix(column: Any) -> tuple[np.ndarray | None, str | None]:
    if column is None or len(column) == 0:
        return None, None
    if column.null_count:
        return None, f"{column.null_count} labelled rows were logged without probabilities"
    import pyarrow.compute as pc

    flat = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    widths = pc.unique(pc.list_value_length(flat)).to_pylist()
    if len(widths) != 1:
        return None, "the logged probabilities differ in width (different models' classes?)"
    values = pc.list_flatten(flat).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64).reshape(len(flat), widths[0]), None


def _names(task: Task | None) -> tuple[str, ...]:
    if task is None:
        return ()
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _micros(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1_000_000)


def _datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
