"""Tracking records in the metadata store: the SQL behind experiments, runs and their data.

Every logical change is one transaction. Metrics keep their full history (``metrics``) and the
latest value per key (``latest_metrics``), which is what search filters and ``run.data.metrics``
read, so a search never scans history.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.store import Store
from loopline.store._schema import (
    latest_metrics,
    params,
    run_data_versions,
    run_tags,
    runs,
)
from loopline.store.raw import fetch_rows, insert_rows, placeholders
from loopline.tracking._search_sql import apply_order, where_clause
from loopline.tracking._sql_experiments import (
    DEFAULT_EXPERIMENT_ID,
    SqlExperiments,
    experiment_key,
    now_ms,
)
from loopline.tracking._validation import restore_experiment_hint
from loopline.tracking.entities import (
    DataInput,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from loopline.tracking.inputs import annotate_inputs
from loopline.tracking.search import parse_filter, parse_order_by

__all__ = ["DEFAULT_EXPERIMENT_ID", "SqlTrackingStore"]

RUN_NAME_TAG = "mlflow.runName"
_MAX_RESULTS = 50_000


class SqlTrackingStore(SqlExperiments):
    def __init__(self, store: Store, artifact_root: str, location_root: str | None = None) -> None:
        """``location_root`` prefixes new experiments' artifact locations (a tracking server
        uses ``mlflow-artifacts:`` so clients upload through its proxy); default: the root."""
        self.store = store
        self.artifact_root = artifact_root.rstrip("/")
        self.location_root = (location_root or artifact_root).rstrip("/")

    # -- runs -----------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        user_id: str = "",
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Sequence[RunTag] = (),
        parent_run_id: str | None = None,
    ) -> Run:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInput(
                f"experiment {experiment.name!r} is deleted; runs cannot be created in it",
                hint=restore_experiment_hint(experiment.name),
            )
        run_id = uuid.uuid4().hex
        tag_map = {t.key: t.value for t in tags}
        name = run_name or tag_map.get(RUN_NAME_TAG) or _random_run_name()
        tag_map[RUN_NAME_TAG] = name
        row: dict[str, Any] = {
            "run_id": run_id,
            "experiment_id": int(experiment.experiment_id),
            "run_name": name,
            "user_id": user_id,
            "status": RunStatus.RUNNING.value,
            "start_time": start_time if start_time is not None else now_ms(),
            "end_time": None,
            "artifact_uri": f"{experiment.artifact_location}/{run_id}/artifacts",
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
            "parent_run_id": parent_run_id,
        }

        def change(conn: Connection) -> None:
            conn.execute(insert(runs).values(**row))
            if tag_map:
                conn.execute(
                    insert(run_tags),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tag_map.items()],
                )

        self.store.write(change)
        info = RunInfo(
            run_id,
            str(row["experiment_id"]),
            name,
            user_id,
            row["status"],
            row["start_time"],
            None,
            row["artifact_uri"],
            row["lifecycle_stage"],
        )
        return Run(info, RunData({}, {}, tag_map, ()))

    def artifact_uri(self, run_id: str) -> str:
        found = self.store.read(
            lambda c: fetch_rows(c, "SELECT artifact_uri FROM runs WHERE run_id = ?", (run_id,))
        )
        if not found:
            raise NotFound(
                f"run {run_id!r} does not exist", hint="list runs with `loopline runs list`"
            )
        return str(found[0][0])

    def get_run(self, run_id: str) -> Run:
        found = self.store.read(lambda c: self._load_runs(c, [run_id]))
        if not found:
            raise NotFound(
                f"run {run_id!r} does not exist", hint="list runs with `loopline runs list`"
            )
        return found[0]

    def _load_runs(self, conn: Connection, run_ids: list[str]) -> list[Run]:
        """Runs with their data, in the order of ``run_ids`` (five driver-level queries)."""
        if not run_ids:
            return []
        marks = placeholders(len(run_ids))
        info_rows = {
            r[0]: r
            for r in fetch_rows(
                conn,
                "SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, "
                f"artifact_uri, lifecycle_stage FROM runs WHERE run_id IN ({marks})",
                run_ids,
            )
        }
        metric_map: dict[str, list[Metric]] = {}
        for run_id, key, value, is_nan, stamp, step in fetch_rows(
            conn,
            "SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics "
            f"WHERE run_id IN ({marks}) ORDER BY key",
            run_ids,
        ):
            metric_map.setdefault(run_id, []).append(
                Metric(key, math.nan if is_nan else value, stamp, step)
            )
        param_map = _pairs(conn, "params", marks, run_ids)
        tag_map = _pairs(conn, "run_tags", marks, run_ids)
        input_map: dict[str, list[DataInput]] = {}
        for run_id, path, oid in fetch_rows(
            conn,
            "SELECT run_id, path, oid FROM run_data_versions "
            f"WHERE run_id IN ({marks}) ORDER BY path",
            run_ids,
        ):
            input_map.setdefault(run_id, []).append(DataInput(path, oid))
        result = []
        for run_id in run_ids:
            r = info_rows.get(run_id)
            if r is None:
                continue
            entries = tuple(metric_map.get(run_id, ()))
            info = RunInfo(r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])
            data = RunData(
                {m.key: m.value for m in entries},
                param_map.get(run_id, {}),
                tag_map.get(run_id, {}),
                entries,
            )
            result.append(Run(info, data, annotate_inputs(input_map.get(run_id, ()), data.tags)))
        return result

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["run_name"] = run_name

        def change(conn: Connection) -> RunInfo:
            if values:
                conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))
            found = fetch_rows(
                conn,
                "SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, "
                "artifact_uri, lifecycle_stage FROM runs WHERE run_id = ?",
                (run_id,),
            )
            if not found:
                raise NotFound(
                    f"run {run_id!r} does not exist", hint="list runs with `loopline runs list`"
                )
            if run_name:
                _upsert_tags(conn, run_id, [RunTag(RUN_NAME_TAG, run_name)])
            r = found[0]
            return RunInfo(r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])

        return self.store.write(change)

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        self._require_run(run_id)
        self.store.write(
            lambda c: c.execute(
                update(runs).where(runs.c.run_id == run_id).values(lifecycle_stage=stage.value)
            )
        )

    def _require_run(self, run_id: str, *, active: bool = False) -> Any:
        return self.store.read(lambda c: _check_run(c, run_id, active=active))

    # -- logging --------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics_: Sequence[Metric] = (),
        params_: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Record metrics, params and tags of one run in one transaction."""

        def change(conn: Connection) -> None:
            _check_run(conn, run_id, active=True)
            if params_:
                _insert_params(conn, run_id, params_)
            if tags:
                _upsert_tags(conn, run_id, tags)
            if metrics_:
                _insert_metrics(conn, run_id, metrics_)

        self.store.write(change)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._require_run(run_id, active=True)
        found = self.store.read(
            lambda c: c.execute(
                select(run_tags.c.key).where(run_tags.c.run_id == run_id, run_tags.c.key == key)
            ).first()
        )
        if found is None:
            raise NotFound(f"run {run_id} has no tag {key!r}")
        self.store.write(
            lambda c: c.execute(
                delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key == key)
            )
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        def query(conn: Connection) -> list[Metric]:
            # (key, value, timestamp, step) rows are Metric tuples as they come; only NaN
            # (stored as NULL, flagged in is_nan) needs fixing up.
            rows = fetch_rows(
                conn,
                "SELECT key, value, timestamp, step FROM metrics WHERE run_id = ? AND key = ? "
                "ORDER BY step, timestamp, id",
                (run_id, key),
            )
            new, nan = tuple.__new__, math.nan
            return [
                new(Metric, r) if r[1] is not None else Metric(key, nan, r[2], r[3]) for r in rows
            ]

        history = self.store.read(query)
        if not history:
            self._require_run(run_id)  # an unknown run is an error; an unknown key is empty
        return history

    def log_inputs(self, run_id: str, inputs: Iterable[DataInput]) -> None:
        rows = [{"run_id": run_id, "path": d.path, "oid": d.oid} for d in inputs]
        if not rows:
            return

        def change(conn: Connection) -> None:
            conn.execute(
                delete(run_data_versions).where(
                    run_data_versions.c.run_id == run_id,
                    run_data_versions.c.path.in_([r["path"] for r in rows]),
                )
            )
            conn.execute(insert(run_data_versions), rows)

        self.store.write(change)

    # -- search ---------------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        if max_results < 1 or max_results > _MAX_RESULTS:
            raise InvalidInput(
                f"max_results must be between 1 and {_MAX_RESULTS}, got {max_results}"
            )
        comparisons = parse_filter(filter_string)
        orders = parse_order_by(order_by)
        offset = _decode_token(page_token)
        ids = [experiment_key(e) for e in experiment_ids]
        query = select(runs.c.run_id).where(
            runs.c.experiment_id.in_(ids),
            runs.c.lifecycle_stage.in_(view_type.stages()),
            where_clause(comparisons),
        )
        query = apply_order(query, orders).limit(max_results + 1).offset(offset)

        def run_query(conn: Connection) -> tuple[list[Run], str | None]:
            found = list(conn.execute(query).scalars().all())
            more = len(found) > max_results
            page = found[:max_results]
            token = _encode_token(offset + max_results) if more else None
            return self._load_runs(conn, page), token

        return self.store.read(run_query)


def _check_run(conn: Connection, run_id: str, *, active: bool) -> Any:
    """The run's row; NotFound if it does not exist, InvalidInput if deleted and ``active``."""
    row = conn.execute(
        select(runs.c.run_id, runs.c.lifecycle_stage).where(runs.c.run_id == run_id)
    ).first()
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist", hint="list runs with `loopline runs list`")
    if active and row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidInput(
            f"run {run_id} is deleted; nothing can be logged to it",
            hint=f"restore it with `loopline runs restore {run_id}`",
        )
    return row


def _pairs(
    conn: Connection, table: str, marks: str, run_ids: list[str]
) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for run_id, key, value in fetch_rows(
        conn, f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({marks})", run_ids
    ):
        found.setdefault(run_id, {})[key] = value
    return found


def _insert_params(conn: Connection, run_id: str, new: Sequence[Param]) -> None:
    wanted: dict[str, str] = {}
    for p in new:
        if p.key in wanted and wanted[p.key] != p.value:
            raise _param_conflict(run_id, p.key, wanted[p.key], p.value)
        wanted[p.key] = p.value
    existing = dict(
        conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_id == run_id, params.c.key.in_(list(wanted))
            )
        ).all()
    )
    for key, value in wanted.items():
        if key in existing and existing[key] != value:
            raise _param_conflict(run_id, key, existing[key], value)
    rows = [
        {"run_id": run_id, "key": k, "value": v} for k, v in wanted.items() if k not in existing
    ]
    if rows:
        conn.execute(insert(params), rows)


def _param_conflict(run_id: str, key: str, old: str, new: str) -> Conflict:
    return Conflict(
        f"param {key!r} of run {run_id} is already {old!r}; it cannot change to {new!r}",
        hint="params are fixed once logged: start a new run to try another value",
    )


def _upsert_tags(conn: Connection, run_id: str, tags: Sequence[RunTag]) -> None:
    latest = {t.key: t.value for t in tags}
    conn.execute(
        delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key.in_(list(latest)))
    )
    conn.execute(
        insert(run_tags), [{"run_id": run_id, "key": k, "value": v} for k, v in latest.items()]
    )
    if RUN_NAME_TAG in latest:
        conn.execute(
            update(runs).where(runs.c.run_id == run_id).values(run_name=latest[RUN_NAME_TAG])
        )


def _insert_metrics(conn: Connection, run_id: str, batch: Sequence[Metric]) -> None:
    """Append the points (driver-level executemany) and move each key's latest value forward."""
    # Metric is a (key, value, timestamp, step) tuple; NaN is the one value unequal to itself.
    rows = [(run_id, k, v if v == v else None, v != v, t, s) for k, v, t, s in batch]
    newest: dict[str, Metric] = {}
    for m in batch:
        seen = newest.get(m[0])
        if seen is None or m[3] > seen[3] or (m[3] == seen[3] and m[2] >= seen[2]):
            newest[m[0]] = m
    insert_rows(conn, "metrics", ("run_id", "key", "value", "is_nan", "timestamp", "step"), rows)
    current = {
        r.key: (r.step, r.timestamp)
        for r in conn.execute(
            select(latest_metrics.c.key, latest_metrics.c.step, latest_metrics.c.timestamp).where(
                latest_metrics.c.run_id == run_id, latest_metrics.c.key.in_(list(newest))
            )
        )
    }
    for key, m in newest.items():
        is_nan = math.isnan(m.value)
        values = {
            "value": None if is_nan else m.value,
            "is_nan": is_nan,
            "timestamp": m.timestamp,
            "step": m.step,
        }
        if key not in current:
            conn.execute(insert(latest_metrics).values(run_id=run_id, key=key, **values))
        elif (m.step, m.timestamp) >= current[key]:
            conn.execute(
                update(latest_metrics)
                .where(and_(latest_metrics.c.run_id == run_id, latest_metrics.c.key == key))
                .values(**values)
            )


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            f"page token {token!r} is not valid", hint="pass the next_page_token a search returned"
        ) from None
    if offset < 0:
        raise InvalidInput(f"page token {token!r} is not valid")
    return offset


_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "gentle",
    "keen",
    "lucky",
    "quiet",
    "swift",
    "tidy",
    "wise",
)
_NOUNS = ("otter", "heron", "lynx", "falcon", "badger", "koala", "panda", "tiger", "whale", "wren")


def _random_run_name() -> str:
    import random

    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"
