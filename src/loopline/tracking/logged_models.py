"""MLflow 3 logged models: a model logged by the mlflow client has an id (``m-<hex>``), its own
artifact folder and a status; registry versions can point at it (``models:/m-<hex>``).

As in MLflow 3, a logged model's files live at ``<experiment artifact location>/models/<id>/
artifacts``, apart from any run's artifacts. Searches take MLflow's filter on the model's own
fields (``name``, ``model_id``, ``source_run_id``, ``status``, ``model_type``), its tags and
params: the mlflow client lists ``runs:/<run>/<path>`` by looking for a model named ``<path>``
logged by that run, so an ignored filter would mix a model's files into a run folder's listing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, not_, select, update

from loopline.core.errors import InvalidInput, NotFound
from loopline.store import Store
from loopline.store._schema import logged_model_params, logged_model_tags, logged_models

__all__ = ["LoggedModel", "SqlLoggedModels"]

_STATUSES = ("PENDING", "READY", "UPLOAD_FAILED", "FAILED", "LOGGED_MODEL_STATUS_UNSPECIFIED")


@dataclass(frozen=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    status: str
    model_type: str | None
    artifact_location: str
    creation_time: int
    last_updated_time: int
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


class SqlLoggedModels:
    def __init__(self, store: Store, location_root: str) -> None:
        self.store = store
        self.location_root = location_root.rstrip("/")

    def create(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        model_type: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        from loopline.tracking._sql_store import SqlTrackingStore
        from loopline.tracking.entities import LifecycleStage

        experiment = SqlTrackingStore(self.store, "").get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInput(
                f"experiment {experiment.name!r} is deleted; models cannot be logged to it",
                hint="restore it first, or use another experiment",
            )
        model_id = f"m-{uuid.uuid4().hex}"
        stamp = int(time.time() * 1000)
        root = experiment.artifact_location.rstrip("/") or f"{self.location_root}/{experiment_id}"
        location = f"{root}/models/{model_id}/artifacts"

        def change(conn: Connection) -> None:
            conn.execute(
                insert(logged_models).values(
                    model_id=model_id,
                    experiment_id=int(experiment_id),
                    name=name or "model",
                    source_run_id=source_run_id,
                    status="PENDING",
                    status_message=None,
                    model_type=model_type,
                    artifact_location=location,
                    creation_time=stamp,
                    last_updated_time=stamp,
                )
            )
            for k, v in (tags or {}).items():
                conn.execute(insert(logged_model_tags).values(model_id=model_id, key=k, value=v))
            for k, v in (params or {}).items():
                conn.execute(insert(logged_model_params).values(model_id=model_id, key=k, value=v))

        self.store.write(change)
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        found = self.store.read(lambda c: self._load(c, [model_id]))
        if not found:
            raise NotFound(f"logged model {model_id!r} does not exist")
        return found[0]

    def _load(self, conn: Connection, ids: Sequence[str]) -> list[LoggedModel]:
        rows = conn.execute(select(logged_models).where(logged_models.c.model_id.in_(ids))).all()
        tags: dict[str, dict[str, str]] = {}
        for t in conn.execute(
            select(logged_model_tags).where(logged_model_tags.c.model_id.in_(ids))
        ):
            tags.setdefault(t.model_id, {})[t.key] = t.value
        params: dict[str, dict[str, str]] = {}
        for p in conn.execute(
            select(logged_model_params).where(logged_model_params.c.model_id.in_(ids))
        ):
            params.setdefault(p.model_id, {})[p.key] = p.value
        by_id = {
            r.model_id: LoggedModel(
                r.model_id,
                str(r.experiment_id),
                r.name,
                r.source_run_id,
                r.status,
                r.model_type,
                r.artifact_location,
                r.creation_time,
                r.last_updated_time,
                tags.get(r.model_id, {}),
                params.get(r.model_id, {}),
            )
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in _STATUSES:
            raise InvalidInput(
                f"logged model status must be one of {', '.join(_STATUSES)}, got {status!r}"
            )
        self.get(model_id)
        self.store.write(
            lambda c: c.execute(
                update(logged_models)
                .where(logged_models.c.model_id == model_id)
                .values(status=status, last_updated_time=int(time.time() * 1000))
            )
        )
        return self.get(model_id)

    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        self.get(model_id)

        def change(conn: Connection) -> None:
            for k, v in tags.items():
                conn.execute(
                    delete(logged_model_tags).where(
                        logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == k
                    )
                )
                conn.execute(insert(logged_model_tags).values(model_id=model_id, key=k, value=v))

        self.store.write(change)

    def delete(self, model_id: str) -> None:
        self.get(model_id)

        def change(conn: Connection) -> None:
            for table in (logged_model_tags, logged_model_params, logged_models):
                conn.execute(delete(table).where(table.c.model_id == model_id))

        self.store.write(change)

    def search(
        self, experiment_ids: Sequence[str], max_results: int = 100, filter_string: str = ""
    ) -> list[LoggedModel]:
        keys = [int(e) for e in experiment_ids]
        conditions = [logged_models.c.experiment_id.in_(keys)]
        conditions += [_condition(c) for c in parse_logged_model_filter(filter_string)]

        def run(conn: Connection) -> list[LoggedModel]:
            ids = [
                r.model_id
                for r in conn.execute(
                    select(logged_models.c.model_id)
                    .where(and_(*conditions))
                    .order_by(logged_models.c.creation_time.desc())
                    .limit(max_results)
                )
            ]
            return self._load(conn, ids)

        return self.store.read(run)


_FIELDS = ("name", "model_id", "source_run_id", "status", "model_type")
_CLAUSE = re.compile(
    r"""^\s*(?P<key>(?:(?:tags?|params?)\.(?:`[^`]+`|"[^"]+"|[\w.\-]+))|[A-Za-z_]\w*)
        \s*(?P<op>!=|=|LIKE|ILIKE)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_AND = re.compile(r"""\s+AND\s+(?=(?:[^'"]*['"][^'"]*['"])*[^'"]*$)""", re.IGNORECASE)


@dataclass(frozen=True)
class LoggedModelClause:
    field: str  # one of _FIELDS, "tag" or "param"
    key: str | None
    op: str
    value: str


def parse_logged_model_filter(text: str | None) -> list[LoggedModelClause]:
    """``name = 'model' AND tags.team = 'ml'`` as clauses; anything else is refused."""
    if not text or not text.strip():
        return []
    clauses = []
    for part in _AND.split(text.strip()):
        match = _CLAUSE.match(part)
        field_name = match["key"] if match else ""
        kind = field_name.split(".", 1)[0].lower() if "." in field_name else field_name
        if not match or ("." not in field_name and kind not in _FIELDS):
            raise InvalidInput(
                f"invalid logged model filter clause {part.strip()!r}",
                hint=f"use {', '.join(_FIELDS)}, tags.<key> or params.<key> with =, !=, LIKE "
                "or ILIKE and a quoted value, joined by AND",
            )
        value = match["value"][1:-1]
        if "." in field_name:
            key = field_name.split(".", 1)[1].strip('`"')
            clauses.append(LoggedModelClause(kind.rstrip("s"), key, match["op"].upper(), value))
        else:
            clauses.append(LoggedModelClause(kind, None, match["op"].upper(), value))
    return clauses


def _compare(column: Any, op: str, value: str) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "LIKE":
        return column.like(value)
    return func.lower(column).like(func.lower(value))


def _condition(c: LoggedModelClause) -> Any:
    if c.field in _FIELDS:
        value = c.value
        if c.field == "status" and c.op in ("=", "!="):
            value = value.upper().removeprefix("LOGGED_MODEL_")
        return _compare(logged_models.c[c.field], c.op, value)
    table = logged_model_tags if c.field == "tag" else logged_model_params
    has = exists().where(
        table.c.model_id == logged_models.c.model_id,
        table.c.key == c.key,
        _compare(table.c.value, "=" if c.op == "!=" else c.op, c.value),
    )
    return not_(has) if c.op == "!=" else has
