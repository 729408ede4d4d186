"""Queries over the rollouts table: state of each canary rollout and its controller lease."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from loopline.core.errors import Conflict, NotFound
from loopline.store import Store
from loopline.store._schema import rollouts

__all__ = ["RolloutRow", "SqlRollouts"]

ACTIVE_PHASES = ("Progressing", "Paused")


@dataclass(frozen=True)
class RolloutRow:
    id: str
    deployment: str
    candidate: str
    candidate_uri: str
    phase: str
    weight: int
    step: int
    failed_checks: int
    spec: dict[str, Any]
    reason: str | None
    started_at: float
    updated_at: float
    step_started_at: float
    waiting_since: float | None
    owner: str | None
    lease_until: float | None

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_PHASES


def _row(r: Any) -> RolloutRow:
    return RolloutRow(
        r.id, r.deployment, r.candidate, r.candidate_uri, r.phase, r.weight, r.step,
        r.failed_checks, json.loads(r.spec), r.reason, r.started_at, r.updated_at,
        r.step_started_at, r.waiting_since, r.owner, r.lease_until,
    )  # fmt: skip


class SqlRollouts:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock  # rollout times; leases always use the real clock

    def insert(self, row: RolloutRow) -> RolloutRow:
        def change(conn: Connection) -> RolloutRow:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(rollouts).values(
                            id=row.id, deployment=row.deployment,
                            active_deployment=row.deployment, candidate=row.candidate,
                            candidate_uri=row.candidate_uri, phase=row.phase, weight=row.weight,
                            step=row.step, failed_checks=row.failed_checks,
                            spec=json.dumps(row.spec), reason=row.reason,
                            started_at=row.started_at, updated_at=row.updated_at,
                            step_started_at=row.step_started_at,
                            waiting_since=row.waiting_since, owner=None, lease_until=None,
                        )
                    )  # fmt: skip
            except SAIntegrityError:
                raise Conflict(
                    f"deployment {row.deployment!r} already has a rollout in progress",
                    hint=f"follow it with `loopline rollout status {row.deployment}`, or end it "
                    f"with `loopline rollout abort {row.deployment}`",
                ) from None
            return row

        return self.store.write(change)

    def current(self, deployment: str) -> RolloutRow:
        """The active rollout of a deployment, else its latest one."""
        query = (
            select(rollouts)
            .where(rollouts.c.deployment == deployment)
            .order_by(rollouts.c.active_deployment.is_(None), rollouts.c.started_at.desc())
            .limit(1)
        )

        def run(conn: Connection) -> RolloutRow:
            found = conn.execute(query).first()
            if found is None:
                raise NotFound(
                    f"deployment {deployment!r} has no rollout",
                    hint=f"start one with `loopline rollout start {deployment} --candidate URI`",
                )
            return _row(found)

        return self.store.read(run)

    def active_deployments(self) -> list[str]:
        query = select(rollouts.c.active_deployment).where(
            rollouts.c.active_deployment.is_not(None)
        )
        return self.store.read(lambda conn: sorted(r[0] for r in conn.execute(query)))

    def get(self, rollout_id: str) -> RolloutRow:
        def run(conn: Connection) -> RolloutRow:
            found = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
            if found is None:
                raise NotFound(f"rollout {rollout_id} does not exist")
            return _row(found)

        return self.store.read(run)

    def save(self, row: RolloutRow, *, owner: str | None = None) -> RolloutRow:
        """Write the new state; refused if another controller holds the lease."""
        now = time.time()
        row = replace(row, updated_at=self.clock())

        def change(conn: Connection) -> RolloutRow:
            query = update(rollouts).where(rollouts.c.id == row.id)
            if owner is not None:
                query = query.where(
                    or_(rollouts.c.owner.is_(None), rollouts.c.owner == owner,
                        rollouts.c.lease_until < now)
                )  # fmt: skip
            done = conn.execute(
                query.values(
                    active_deployment=row.deployment if row.active else None,
                    phase=row.phase, weight=row.weight, step=row.step,
                    failed_checks=row.failed_checks, reason=row.reason,
                    updated_at=row.updated_at, step_started_at=row.step_started_at,
                    waiting_since=row.waiting_since,
                )
            )  # fmt: skip
            if done.rowcount != 1:
                raise Conflict(
                    f"rollout of {row.deployment!r} is driven by another controller",
                    hint="stop the other `loopline rollout` process, or wait for its lease to end",
                )
            return row

        return self.store.write(change)

    def acquire(self, rollout_id: str, owner: str, seconds: float) -> bool:
        """Take or renew the controller lease; False if another live controller holds it."""
        now = time.time()

        def change(conn: Connection) -> bool:
            done = conn.execute(
                update(rollouts)
                .where(
                    rollouts.c.id == rollout_id,
                    or_(
                        rollouts.c.owner.is_(None),
                        rollouts.c.owner == owner,
                        rollouts.c.lease_until < now,
                    ),
                )
                .values(owner=owner, lease_until=now + seconds)
            )
            return bool(done.rowcount == 1)

        return self.store.write(change)

    def release(self, rollout_id: str, owner: str) -> None:
        def change(conn: Connection) -> None:
            conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout_id, rollouts.c.owner == owner)
                .values(owner=None, lease_until=None)
            )

        self.store.write(change)
