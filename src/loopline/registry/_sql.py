"""Model-version and alias records in the metadata store; with :class:`SqlModels` the whole
SQL registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, not_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.registry._filters import RegistryClause, parse_registry_filter
from loopline.registry._sources import check_source
from loopline.registry._sql_models import SqlModels, compare, missing_model, now_ms
from loopline.registry.entities import ModelVersion
from loopline.store._schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_models,
)

__all__ = ["SqlRegistry"]

_STAGES = ("None", "Staging", "Production", "Archived")


class SqlRegistry(SqlModels):
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
        checked = check_source(
            self.store, self.artifact_root, source, run_id, model_id, self._version_source
        )

        def change(conn: Connection) -> int:
            # Bump the model's counter first: the row lock orders concurrent writers, and a
            # number once issued is never issued again, even after its version is deleted.
            bumped = conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_version=registered_models.c.last_version + 1)
            )
            if not bumped.rowcount:
                raise missing_model(name)
            counter = conn.execute(
                select(registered_models.c.last_version).where(registered_models.c.name == name)
            ).scalar_one()
            current = conn.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            version = max(int(counter), int(current or 0) + 1)
            stamp = now_ms()
            conn.execute(
                insert(model_versions).values(
                    name=name,
                    version=version,
                    creation_time=stamp,
                    last_updated_time=stamp,
                    description=description,
                    source=checked.source,
                    run_id=checked.run_id,
                    status="READY",
                    status_message=None,
                    current_stage="None",
                    model_id=checked.model_id,
                )
            )
            for k, v in (tags or {}).items():
                conn.execute(
                    insert(model_version_tags).values(name=name, version=version, key=k, value=v)
                )
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_time=stamp, last_version=version)
            )
            return version

        for _attempt in range(5):
            try:
                version = self.store.write(change)
                return self.get_model_version(name, version)
            except SAIntegrityError:
                continue  # another writer took this version number; take the next one
        raise Conflict(f"could not allocate a new version of {name!r}; too many concurrent writers")

    def _version_source(self, model_uri: str) -> tuple[str, str | None, str | None]:
        """The source, run and logged model of the version a ``models:/NAME/...`` URI names."""
        from loopline.core.uris import parse_model_uri

        parsed = parse_model_uri(model_uri)
        if parsed.kind != "registry" or not parsed.name:
            raise InvalidInput(f"{model_uri} is not a models:/ URI")
        if parsed.alias:
            found = self.get_version_by_alias(parsed.name, parsed.alias)
        elif parsed.version is not None:
            found = self.get_model_version(parsed.name, parsed.version)
        else:
            found = self.latest_version(parsed.name)
        return found.source, found.run_id, found.model_id

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

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int = 10_000
    ) -> list[ModelVersion]:
        clauses = parse_registry_filter(filter_string)
        parts = [self._version_clause(c) for c in clauses]
        condition = and_(*parts) if parts else model_versions.c.version.isnot(None)
        return self.store.read(lambda conn: self._load_versions(conn, condition, max_results))

    def _version_clause(self, c: RegistryClause) -> Any:
        if c.field == "name":
            return compare(model_versions.c.name, c.op, c.value)
        if c.field == "run_id":
            return compare(model_versions.c.run_id, c.op, c.value)
        if c.field == "source_path":
            return compare(model_versions.c.source, c.op, c.value)
        if c.field == "version_number":
            return compare(model_versions.c.version, c.op, int(c.value))
        has = exists().where(
            model_version_tags.c.name == model_versions.c.name,
            model_version_tags.c.version == model_versions.c.version,
            model_version_tags.c.key == c.key,
            compare(model_version_tags.c.value, "=" if c.op == "!=" else c.op, c.value),
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
                .values(description=description, last_updated_time=now_ms())
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
                    last_updated_time=now_ms(),
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
