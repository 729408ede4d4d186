"""Experiment records in the metadata store (one part of the SQL tracking store)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.store import Store
from loopline.store._schema import experiment_tags, experiments
from loopline.tracking._validation import restore_experiment_hint
from loopline.tracking.entities import Experiment, LifecycleStage, ViewType

__all__ = ["DEFAULT_EXPERIMENT_ID", "SqlExperiments", "experiment_key", "now_ms"]

DEFAULT_EXPERIMENT_ID = "0"


def now_ms() -> int:
    return int(time.time() * 1000)


def experiment_key(experiment_id: str | int) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFound(
            f"experiment {experiment_id!r} does not exist (experiment ids are numbers)",
            hint="list experiments with `loopline experiments list`",
        ) from None


class SqlExperiments:
    store: Store
    location_root: str

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_id: int | None = None,
    ) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("an experiment needs a non-empty name")

        def change(conn: Connection) -> str:
            existing = conn.execute(
                select(experiments.c.lifecycle_stage).where(experiments.c.name == name)
            ).first()
            if existing is not None and existing[0] == LifecycleStage.DELETED.value:
                raise Conflict(
                    f"experiment {name!r} already exists in deleted state",
                    hint=restore_experiment_hint(name),
                )
            if existing is not None:
                raise Conflict(
                    f"experiment {name!r} already exists",
                    hint="use set_experiment(name) to reuse it, or choose another name",
                )
            stamp = now_ms()
            values: dict[str, Any] = {
                "name": name,
                "artifact_location": artifact_location or "",
                "lifecycle_stage": LifecycleStage.ACTIVE.value,
                "creation_time": stamp,
                "last_update_time": stamp,
            }
            if experiment_id is not None:
                values["experiment_id"] = experiment_id
            try:
                inserted = conn.execute(insert(experiments).values(**values)).inserted_primary_key
                new_id = inserted[0] if inserted else experiment_id
            except SAIntegrityError:
                raise Conflict(f"experiment {name!r} already exists") from None
            if not artifact_location:
                conn.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == new_id)
                    .values(artifact_location=f"{self.location_root}/{new_id}")
                )
            for key, value in (tags or {}).items():
                conn.execute(
                    insert(experiment_tags).values(experiment_id=new_id, key=key, value=value)
                )
            return str(new_id)

        return self.store.write(change)

    def ensure_default_experiment(self) -> str:
        """Experiment "0", named "Default", which MLflow clients assume exists."""
        found = self.store.read(
            lambda c: c.execute(
                select(experiments.c.experiment_id).where(experiments.c.experiment_id == 0)
            ).first()
        )
        if found is None:
            # Conflict: created concurrently, or a user experiment is called "Default".
            with contextlib.suppress(Conflict):
                self.create_experiment("Default", experiment_id=0)
        return DEFAULT_EXPERIMENT_ID

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        key = experiment_key(experiment_id)
        if key == 0:
            self.ensure_default_experiment()
        found = self._experiments(experiments.c.experiment_id == key)
        if not found:
            raise NotFound(
                f"experiment {experiment_id} does not exist",
                hint="list experiments with `loopline experiments list`",
            )
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._experiments(experiments.c.name == name)
        return found[0] if found else None

    def search_experiments(
        self, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]:
        return self._experiments(
            experiments.c.lifecycle_stage.in_(view_type.stages()), limit=max_results
        )

    def _experiments(self, condition: Any, limit: int | None = None) -> list[Experiment]:
        def query(conn: Connection) -> list[Experiment]:
            rows = conn.execute(
                select(experiments)
                .where(condition)
                .order_by(experiments.c.experiment_id)
                .limit(limit)
            ).all()
            ids = [r.experiment_id for r in rows]
            tag_rows = conn.execute(
                select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
            ).all()
            tags: dict[int, dict[str, str]] = {}
            for t in tag_rows:
                tags.setdefault(t.experiment_id, {})[t.key] = t.value
            return [
                Experiment(
                    str(r.experiment_id),
                    r.name,
                    r.artifact_location,
                    r.lifecycle_stage,
                    r.creation_time,
                    r.last_update_time,
                    tags.get(r.experiment_id, {}),
                )
                for r in rows
            ]

        return self.store.read(query)

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None:
        key = experiment_key(experiment_id)
        self.get_experiment(experiment_id)
        if key == 0 and stage == LifecycleStage.DELETED:
            raise InvalidInput(
                "the Default experiment (id 0) cannot be deleted: runs started without an "
                "experiment go there",
                hint="delete its runs instead (`loopline runs delete RUN_ID`), or rename it "
                "with `loopline experiments rename Default NEW_NAME`",
            )
        self.store.write(
            lambda c: c.execute(
                update(experiments)
                .where(experiments.c.experiment_id == key)
                .values(lifecycle_stage=stage.value, last_update_time=now_ms())
            )
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        key = experiment_key(experiment_id)
        self.get_experiment(experiment_id)
        if not isinstance(new_name, str) or not new_name.strip():
            raise InvalidInput("an experiment needs a non-empty name")
        try:
            self.store.write(
                lambda c: c.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == key)
                    .values(name=new_name, last_update_time=now_ms())
                )
            )
        except SAIntegrityError:
            raise Conflict(f"experiment {new_name!r} already exists") from None

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        exp = experiment_key(experiment_id)
        self.get_experiment(experiment_id)

        def change(conn: Connection) -> None:
            conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == exp, experiment_tags.c.key == key
                )
            )
            conn.execute(insert(experiment_tags).values(experiment_id=exp, key=key, value=value))

        self.store.write(change)
