"""Registered-model records in the metadata store (the first half of the SQL registry)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, not_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.registry._filters import RegistryClause, parse_registry_filter
from loopline.registry.entities import ModelVersion, RegisteredModel
from loopline.store import Store
from loopline.store._schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

__all__ = ["SqlModels", "compare", "missing_model", "now_ms"]


def now_ms() -> int:
    return int(time.time() * 1000)


def missing_model(name: str) -> NotFound:
    return NotFound(
        f"registered model {name!r} does not exist",
        hint="register one with `loopline models register MODEL_URI --name NAME`",
    )


def check_model_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip() or "/" in name or "@" in name:
        raise InvalidInput(
            f"model name {name!r} is not allowed",
            hint="use a non-empty name without '/' or '@' (models:/ URIs use them)",
        )


class SqlModels:
    def __init__(self, store: Store, artifact_root: str = "") -> None:
        """``artifact_root``: the store's artifact folder (or URL); local model version sources
        inside it are accepted without naming their run."""
        self.store = store
        self.artifact_root = artifact_root.rstrip("/")

    # -- registered models ----------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check_model_name(name)

        def change(conn: Connection) -> None:
            stamp = now_ms()
            conn.execute(
                insert(registered_models).values(
                    name=name, creation_time=stamp, last_updated_time=stamp, description=description
                )
            )
            for k, v in (tags or {}).items():
                conn.execute(insert(registered_model_tags).values(name=name, key=k, value=v))

        try:
            self.store.write(change)
        except SAIntegrityError:
            raise Conflict(f"registered model {name!r} already exists") from None
        return self.get_registered_model(name)

    def _model_exists(self, conn: Connection, name: str) -> bool:
        found = conn.execute(
            select(registered_models.c.name).where(registered_models.c.name == name)
        )
        return found.first() is not None

    def get_registered_model(self, name: str) -> RegisteredModel:
        found = self.store.read(lambda c: self._load_models(c, [name]))
        if not found:
            raise missing_model(name)
        return found[0]

    def _load_models(self, conn: Connection, names: Sequence[str]) -> list[RegisteredModel]:
        rows = {
            r.name: r
            for r in conn.execute(
                select(registered_models).where(registered_models.c.name.in_(names))
            )
        }
        tags: dict[str, dict[str, str]] = {}
        for t in conn.execute(
            select(registered_model_tags).where(registered_model_tags.c.name.in_(names))
        ):
            tags.setdefault(t.name, {})[t.key] = t.value
        aliases: dict[str, dict[str, int]] = {}
        for a in conn.execute(
            select(registered_model_aliases).where(registered_model_aliases.c.name.in_(names))
        ):
            aliases.setdefault(a.name, {})[a.alias] = a.version
        latest_numbers = conn.execute(
            select(model_versions.c.name, func.max(model_versions.c.version))
            .where(model_versions.c.name.in_(names))
            .group_by(model_versions.c.name)
        ).all()
        latest = {
            name: self._load_versions(
                conn, and_(model_versions.c.name == name, model_versions.c.version == v)
            )
            for name, v in latest_numbers
        }
        return [
            RegisteredModel(
                r.name,
                r.creation_time,
                r.last_updated_time,
                r.description,
                tags.get(r.name, {}),
                aliases.get(r.name, {}),
                tuple(latest.get(r.name, [])),
            )
            for name in names
            if (r := rows.get(name)) is not None
        ]

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
    ) -> list[RegisteredModel]:
        clauses = parse_registry_filter(filter_string)
        condition = and_(*(self._model_clause(c) for c in clauses)) if clauses else None
        query = select(registered_models.c.name)
        if condition is not None:
            query = query.where(condition)
        descending = any("DESC" in (o or "").upper() for o in order_by or [])
        query = query.order_by(
            registered_models.c.name.desc() if descending else registered_models.c.name
        )
        query = query.limit(max_results)

        def run(conn: Connection) -> list[RegisteredModel]:
            names = [r.name for r in conn.execute(query)]
            return self._load_models(conn, names)

        return self.store.read(run)

    def _model_clause(self, c: RegistryClause) -> Any:
        if c.field == "name":
            return compare(registered_models.c.name, c.op, c.value)
        if c.field == "tag":
            has = exists().where(
                registered_model_tags.c.name == registered_models.c.name,
                registered_model_tags.c.key == c.key,
                compare(registered_model_tags.c.value, "=" if c.op == "!=" else c.op, c.value),
            )
            return not_(has) if c.op == "!=" else has
        raise InvalidInput(
            f"registered models cannot be filtered by {c.field}", hint="use name or tags"
        )

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        self._write_model(
            name,
            lambda c: c.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(description=description, last_updated_time=now_ms())
            ),
        )
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model with its versions, tags and aliases in one transaction. As in
        MLflow, ``models:/OLD/...`` URIs stop resolving: deployments must use the new name."""
        check_model_name(new_name)

        def change(conn: Connection) -> None:
            row = conn.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise missing_model(name)
            if self._model_exists(conn, new_name):
                raise Conflict(
                    f"registered model {new_name!r} already exists",
                    hint="choose another name, or delete that model first",
                )
            conn.execute(
                insert(registered_models).values(
                    {**row._asdict(), "name": new_name, "last_updated_time": now_ms()}
                )
            )
            for table in (
                model_versions,
                model_version_tags,
                registered_model_tags,
                registered_model_aliases,
            ):
                conn.execute(update(table).where(table.c.name == name).values(name=new_name))
            conn.execute(delete(registered_models).where(registered_models.c.name == name))

        try:
            self.store.write(change)
        except SAIntegrityError:
            raise Conflict(f"registered model {new_name!r} already exists") from None
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        def change(conn: Connection) -> None:
            for table in (
                registered_model_aliases,
                model_version_tags,
                model_versions,
                registered_model_tags,
            ):
                conn.execute(delete(table).where(table.c.name == name))
            conn.execute(delete(registered_models).where(registered_models.c.name == name))

        self._write_model(name, change)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        def change(conn: Connection) -> None:
            conn.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.name == name, registered_model_tags.c.key == key
                )
            )
            conn.execute(insert(registered_model_tags).values(name=name, key=key, value=value))

        self._write_model(name, change)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._write_model(
            name,
            lambda c: c.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.name == name, registered_model_tags.c.key == key
                )
            ),
        )

    def _write_model(self, name: str, change: Any) -> None:
        def guarded(conn: Connection) -> None:
            if not self._model_exists(conn, name):
                raise missing_model(name)
            change(conn)

        self.store.write(guarded)

    def _load_versions(
        self, conn: Connection, condition: Any, limit: int | None = None
    ) -> list[ModelVersion]:
        rows = conn.execute(
            select(model_versions)
            .where(condition)
            .order_by(model_versions.c.name, model_versions.c.version.desc())
            .limit(limit)
        ).all()
        if not rows:
            return []
        keys = {(r.name, r.version) for r in rows}
        names = list({r.name for r in rows})
        tags: dict[tuple[str, int], dict[str, str]] = {}
        for t in conn.execute(
            select(model_version_tags).where(model_version_tags.c.name.in_(names))
        ):
            if (t.name, t.version) in keys:
                tags.setdefault((t.name, t.version), {})[t.key] = t.value
        aliases: dict[tuple[str, int], list[str]] = {}
        for a in conn.execute(
            select(registered_model_aliases).where(registered_model_aliases.c.name.in_(names))
        ):
            aliases.setdefault((a.name, a.version), []).append(a.alias)
        return [
            ModelVersion(
                r.name,
                r.version,
                r.creation_time,
                r.last_updated_time,
                r.source,
                r.run_id,
                r.status,
                r.status_message,
                r.current_stage,
                r.description,
                r.model_id,
                tags.get((r.name, r.version), {}),
                tuple(sorted(aliases.get((r.name, r.version), []))),
            )
            for r in rows
        ]


def compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "LIKE":
        return column.like(value)
    return func.lower(column).like(func.lower(value))
