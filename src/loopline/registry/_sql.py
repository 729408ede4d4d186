"""Registry records in the metadata store: registered models, versions, tags and aliases."""

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

__all__ = ["SqlRegistry"]

_STAGES = ("None", "Staging", "Production", "Archived")


def _now() -> int:
    return int(time.time() * 1000)


def _missing_model(name: str) -> NotFound:
    return NotFound(
        f"registered model {name!r} does not exist",
        hint="register one with `loopline models register MODEL_URI --name NAME`",
    )


class SqlRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- registered models ----------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        if not isinstance(name, str) or not name.strip() or "/" in name or "@" in name:
            raise InvalidInput(
                f"model name {name!r} is not allowed",
                hint="use a non-empty name without '/' or '@' (models:/ URIs use them)",
            )

        def change(conn: Connection) -> None:
            stamp = _now()
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
            raise _missing_model(name)
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
            return _compare(registered_models.c.name, c.op, c.value)
        if c.field == "tag":
            has = exists().where(
                registered_model_tags.c.name == registered_models.c.name,
                registered_model_tags.c.key == c.key,
                _compare(registered_model_tags.c.value, "=" if c.op == "!=" else c.op, c.value),
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
                .values(description=description, last_updated_time=_now())
            ),
        )
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        raise InvalidInput(
            "renaming registered models is not supported", hint="register under the new name"
        )

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
                raise _missing_model(name)
            change(conn)

        self.store.write(guarded)

    # -- versions ---------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        def change(conn: Connection) -> int:
            if not self._model_exists(conn, name):
                raise _missing_model(name)
            current = conn.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            version = int(current or 0) + 1
            stamp = _now()
            conn.execute(
                insert(model_versions).values(
                    name=name,
                    version=version,
                    creation_time=stamp,
                    last_updated_time=stamp,
                    description=description,
                    source=source,
                    run_id=run_id,
                    status="READY",
                    status_message=None,
                    current_stage="None",
                    model_id=model_id,
                )
            )
            for k, v in (tags or {}).items():
                conn.execute(
                    insert(model_version_tags).values(name=name, version=version, key=k, value=v)
                )
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_time=stamp)
            )
            return version

        for _attempt in range(5):
            try:
                version = self.store.write(change)
                return self.get_model_version(name, version)
            except SAIntegrityError:
                continue  # another writer took this version number; take the next one
        raise Conflict(f"could not allocate a new version of {name!r}; too many concurrent writers")

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        number = _version_number(version)
        found = self.store.read(
            lambda c: self._load_versions(
                c, and_(model_versions.c.name == name, model_versions.c.version == number)
            )
        )
        if not found:
            self.get_registered_model(name)
            raise NotFound(
                f"model {name!r} has no version {version}",
                hint=f"see `loopline models show {name}` for its versions",
            )
        return found[0]

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

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int = 10_000
    ) -> list[ModelVersion]:
        clauses = parse_registry_filter(filter_string)
        parts = [self._version_clause(c) for c in clauses]
        condition = and_(*parts) if parts else model_versions.c.version.isnot(None)
        return self.store.read(lambda conn: self._load_versions(conn, condition, max_results))

    def _version_clause(self, c: RegistryClause) -> Any:
        if c.field == "name":
            return _compare(model_versions.c.name, c.op, c.value)
        if c.field == "run_id":
            return _compare(model_versions.c.run_id, c.op, c.value)
        if c.field == "source_path":
            return _compare(model_versions.c.source, c.op, c.value)
        if c.field == "version_number":
            return _compare(model_versions.c.version, c.op, int(c.value))
        has = exists().where(
            model_version_tags.c.name == model_versions.c.name,
            model_version_tags.c.version == model_versions.c.version,
            model_version_tags.c.key == c.key,
            _compare(model_version_tags.c.value, "=" if c.op == "!=" else c.op, c.value),
        )
        return not_(has) if c.op == "!=" else has

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        number = _version_number(version)
        self.get_model_version(name, number)
        self.store.write(
            lambda c: c.execute(
                update(model_versions)
                .where(model_versions.c.name == name, model_versions.c.version == number)
                .values(description=description, last_updated_time=_now())
            )
        )
        return self.get_model_version(name, number)

    def transition_stage(self, name: str, version: int | str, stage: str) -> ModelVersion:
        if stage.capitalize() not in _STAGES and stage != "None":
            raise InvalidInput(
                f"stage must be one of {', '.join(_STAGES)}", hint="aliases replace stages"
            )
        number = _version_number(version)
        self.get_model_version(name, number)
        self.store.write(
            lambda c: c.execute(
                update(model_versions)
                .where(model_versions.c.name == name, model_versions.c.version == number)
                .values(
                    current_stage=stage.capitalize() if stage != "None" else "None",
                    last_updated_time=_now(),
                )
            )
        )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        number = _version_number(version)
        self.get_model_version(name, number)

        def change(conn: Connection) -> None:
            conn.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.name == name,
                    registered_model_aliases.c.version == number,
                )
            )
            conn.execute(
                delete(model_version_tags).where(
                    model_version_tags.c.name == name, model_version_tags.c.version == number
                )
            )
            conn.execute(
                delete(model_versions).where(
                    model_versions.c.name == name, model_versions.c.version == number
                )
            )

        self.store.write(change)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        number = _version_number(version)
        self.get_model_version(name, number)

        def change(conn: Connection) -> None:
            conn.execute(
                delete(model_version_tags).where(
                    model_version_tags.c.name == name,
                    model_version_tags.c.version == number,
                    model_version_tags.c.key == key,
                )
            )
            conn.execute(
                insert(model_version_tags).values(name=name, version=number, key=key, value=value)
            )

        self.store.write(change)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        number = _version_number(version)
        self.get_model_version(name, number)
        self.store.write(
            lambda c: c.execute(
                delete(model_version_tags).where(
                    model_version_tags.c.name == name,
                    model_version_tags.c.version == number,
                    model_version_tags.c.key == key,
                )
            )
        )

    # -- aliases ----------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        number = _version_number(version)
        if not alias or alias.isdigit() or alias.lower() == "latest" or "/" in alias:
            raise InvalidInput(
                f"alias {alias!r} is not allowed",
                hint="use a word such as 'champion'; numbers and 'latest' already mean versions",
            )
        self.get_model_version(name, number)

        def change(conn: Connection) -> None:
            conn.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.name == name,
                    registered_model_aliases.c.alias == alias,
                )
            )
            conn.execute(
                insert(registered_model_aliases).values(name=name, alias=alias, version=number)
            )

        self.store.write(change)

    def delete_alias(self, name: str, alias: str) -> None:
        self.get_registered_model(name)
        self.store.write(
            lambda c: c.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.name == name,
                    registered_model_aliases.c.alias == alias,
                )
            )
        )

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        model = self.get_registered_model(name)
        if alias not in model.aliases:
            known = ", ".join(sorted(model.aliases)) or "none"
            raise NotFound(
                f"model {name!r} has no alias {alias!r} (aliases: {known})",
                hint=f"set one with `loopline models alias {name} {alias} VERSION`",
            )
        return self.get_model_version(name, model.aliases[alias])

    def latest_version(self, name: str) -> ModelVersion:
        model = self.get_registered_model(name)
        if not model.latest_versions:
            raise NotFound(f"model {name!r} has no versions yet", hint="register one first")
        return model.latest_versions[0]


def _version_number(version: int | str) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidInput(f"model version must be a number, got {version!r}") from None
    if number < 1:
        raise InvalidInput(f"model versions start at 1, got {number}")
    return number


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "LIKE":
        return column.like(value)
    return func.lower(column).like(func.lower(value))
