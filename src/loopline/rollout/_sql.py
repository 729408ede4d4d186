"""Queries over the deployments tables (the store's schema, this capability's rows)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from loopline.core.errors import Conflict, LooplineError, NotFound, StoreError
from loopline.rollout.policy import TrafficPolicy
from loopline.store import Store
from loopline.store._schema import deployment_events, deployments, rollouts

__all__ = ["DeploymentRow", "EventRow", "SqlDeployments"]


@dataclass(frozen=True)
class DeploymentRow:
    name: str
    variants: dict[str, str]
    policy: dict[str, Any]
    revision: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class EventRow:
    id: int
    deployment: str
    revision: int
    at: float
    kind: str
    detail: dict[str, Any]


def damaged(name: str, what: str, problem: str) -> StoreError:
    return StoreError(
        f"the stored {what} of deployment {name!r} is damaged: {problem}",
        hint=f"fix: `loopline deploy delete {name}` and create it again",
    )


def _row(r: Any) -> DeploymentRow:
    parsed: dict[str, Any] = {}
    for what in ("variants", "policy"):
        try:
            value = json.loads(getattr(r, what))
        except (TypeError, ValueError) as exc:
            raise damaged(r.name, what, str(exc)) from None
        if not isinstance(value, dict):
            raise damaged(r.name, what, f"a JSON {type(value).__name__}, not an object")
        parsed[what] = value
    try:
        TrafficPolicy.from_dict(parsed["policy"])
    except (KeyError, TypeError, ValueError, AttributeError, LooplineError) as exc:
        problem = exc.message if isinstance(exc, LooplineError) else f"{type(exc).__name__}: {exc}"
        raise damaged(r.name, "policy", problem) from None
    return DeploymentRow(
        r.name, parsed["variants"], parsed["policy"], r.revision, r.created_at, r.updated_at
    )


def _missing(name: str) -> NotFound:
    return NotFound(
        f"deployment {name!r} does not exist",
        hint="see `loopline deploy list`; create one with `loopline deploy create`",
    )


def _refuse_during_rollout(conn: Connection, name: str, what: str) -> None:
    """A deployment whose rollout is active is steered by the rollout alone."""
    phase = conn.execute(
        select(rollouts.c.phase).where(rollouts.c.active_deployment == name)
    ).scalar()
    if phase is not None:
        raise Conflict(
            f"deployment {name!r} has a rollout in progress ({phase}): {what} would leave it "
            "half-done",
            hint=f"end the rollout first with `loopline rollout abort {name}` (or "
            f"`loopline rollout promote {name}`)",
        )


class SqlDeployments:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, variants: dict[str, str], policy: dict[str, Any]) -> DeploymentRow:
        now = time.time()

        def change(conn: Connection) -> DeploymentRow:
            if conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first():
                raise Conflict(
                    f"deployment {name!r} already exists",
                    hint=f"change it with `loopline deploy set-traffic {name} ...`, or delete it "
                    "first",
                )
            conn.execute(
                insert(deployments).values(
                    name=name, variants=json.dumps(variants), policy=json.dumps(policy),
                    revision=1, created_at=now, updated_at=now,
                )
            )  # fmt: skip
            self._event(conn, name, 1, "created", {"variants": variants, "policy": policy})
            return DeploymentRow(name, variants, policy, 1, now, now)

        return self.store.write(change)

    def get(self, name: str) -> DeploymentRow:
        def run(conn: Connection) -> DeploymentRow:
            found = conn.execute(select(deployments).where(deployments.c.name == name)).first()
            if found is None:
                raise _missing(name)
            return _row(found)

        return self.store.read(run)

    def revision(self, name: str) -> int | None:
        query = select(deployments.c.revision).where(deployments.c.name == name)
        return self.store.read(lambda conn: conn.execute(query).scalar())

    def all(self) -> tuple[list[DeploymentRow], list[StoreError]]:
        """Every readable deployment, and one error per damaged row (never hiding the rest)."""
        query = select(deployments).order_by(deployments.c.name)

        def run(conn: Connection) -> tuple[list[DeploymentRow], list[StoreError]]:
            rows, errors = [], []
            for r in conn.execute(query):
                try:
                    rows.append(_row(r))
                except StoreError as exc:
                    errors.append(exc)
            return rows, errors

        return self.store.read(run)

    def change(
        self,
        name: str,
        mutate: Callable[[DeploymentRow], tuple[dict[str, str], dict[str, Any]]],
        kind: str,
        detail: Callable[[DeploymentRow], dict[str, Any]],
        *,
        expected_revision: int | None = None,
        guard: str | Callable[[DeploymentRow], str | None] | None = None,
    ) -> DeploymentRow:
        """Read, change and write one deployment in one transaction (and record why).

        With ``guard`` (what the change does, for the message) it is refused while a rollout of
        the deployment is active."""
        now = time.time()

        def change(conn: Connection) -> DeploymentRow:
            # FOR UPDATE: on PostgreSQL a second writer waits here and then reads the new row
            # (SQLite's write transactions are already serial).
            found = conn.execute(
                select(deployments).where(deployments.c.name == name).with_for_update()
            ).first()
            if found is None:
                raise _missing(name)
            current = _row(found)
            what = guard(current) if callable(guard) else guard
            if what is not None:
                _refuse_during_rollout(conn, name, what)
            if expected_revision is not None and current.revision != expected_revision:
                raise Conflict(
                    f"deployment {name!r} changed meanwhile (revision {current.revision}, "
                    f"expected {expected_revision})",
                    hint="read it again and retry",
                )
            variants, policy = mutate(current)
            revision = current.revision + 1
            moved = conn.execute(
                update(deployments)
                .where(deployments.c.name == name, deployments.c.revision == current.revision)
                .values(
                    variants=json.dumps(variants), policy=json.dumps(policy),
                    revision=revision, updated_at=now,
                )
            )  # fmt: skip
            if moved.rowcount != 1:
                raise Conflict(f"deployment {name!r} changed meanwhile", hint="retry")
            self._event(conn, name, revision, kind, detail(current))
            return DeploymentRow(name, variants, policy, revision, current.created_at, now)

        return self.store.write(change)

    def record(self, name: str, kind: str, detail: dict[str, Any]) -> None:
        def change(conn: Connection) -> None:
            revision = conn.execute(
                select(deployments.c.revision).where(deployments.c.name == name)
            ).scalar()
            if revision is None:  # deleted: the history goes on (a rollout ending, say)
                revision = conn.execute(
                    select(deployment_events.c.revision)
                    .where(deployment_events.c.deployment == name)
                    .order_by(deployment_events.c.id.desc())
                    .limit(1)
                ).scalar()
                if revision is None:
                    raise _missing(name)
            self._event(conn, name, revision, kind, detail)

        self.store.write(change)

    def delete(self, name: str, *, guard: bool = True) -> None:
        def change(conn: Connection) -> None:
            found = conn.execute(
                select(deployments.c.revision).where(deployments.c.name == name)
            ).scalar()
            if found is None:
                raise _missing(name)
            if guard:
                _refuse_during_rollout(conn, name, "deleting it")
            conn.execute(delete(deployments).where(deployments.c.name == name))
            self._event(conn, name, found + 1, "deleted", {})

        self.store.write(change)

    def events(self, name: str, limit: int | None = None) -> list[EventRow]:
        query = (
            select(deployment_events)
            .where(deployment_events.c.deployment == name)
            .order_by(deployment_events.c.id)
        )

        def run(conn: Connection) -> list[EventRow]:
            rows = [
                EventRow(r.id, r.deployment, r.revision, r.at, r.kind, json.loads(r.detail))
                for r in conn.execute(query)
            ]
            return rows[-limit:] if limit else rows

        return self.store.read(run)

    @staticmethod
    def _event(
        conn: Connection, name: str, revision: int, kind: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(deployment_events).values(
                deployment=name, revision=revision, at=time.time(), kind=kind,
                detail=json.dumps(detail, default=str),
            )
        )  # fmt: skip
