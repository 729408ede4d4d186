"""Canary rollouts: start one, and the controller that advances it in Flagger's manner.

Every ``interval`` the controller judges the window since the last step with each check: all
pass → the next weight (after the last step: promote); any fails → the failed-checks count rises
and at ``threshold`` the rollout rolls back (candidate weight 0, alias untouched, phase
``Failed``). A window with too little data is neither a pass nor a failure until
``no_data_deadline`` has passed since the step began; then it is a failure that says so.

State lives in the metadata store, so a controller killed mid-rollout resumes where it was, and a
lease makes sure two controllers never drive the same rollout. Every decision is an event on the
deployment's history with its inputs (values, limits, window, sample sizes).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol

from loopline.core.errors import Conflict, InvalidInput, LooplineError, NotFound, RemoteError
from loopline.rollout._rollouts_sql import RolloutRow, SqlRollouts
from loopline.rollout.checks import (
    AccuracyDeltaCheck,
    CanaryWindow,
    Check,
    CheckResult,
    ErrorRateCheck,
    LatencyCheck,
    PredictionDriftCheck,
    ShadowDisagreementCheck,
)
from loopline.rollout.deployments import Deployment, Deployments
from loopline.store import Store

__all__ = [
    "Controller",
    "LeaseHeld",
    "MetricsSource",
    "RolloutSpec",
    "Rollouts",
    "steps_from",
]

log = logging.getLogger(__name__)
PROGRESSING, PAUSED, SUCCEEDED, FAILED = "Progressing", "Paused", "Succeeded", "Failed"


def steps_from(
    steps: str | None, step_weight: int | None, max_weight: int = 100
) -> tuple[int, ...]:
    """``--steps 10,25,50,100`` or ``--step-weight 20 --max-weight 100`` as increasing weights."""
    if steps is not None and step_weight is not None:
        raise InvalidInput("give --steps or --step-weight, not both")
    if steps is not None:
        try:
            weights = tuple(int(part) for part in steps.split(","))
        except ValueError:
            raise InvalidInput(
                f"--steps {steps!r} is not a list of whole percentages", hint="e.g. 10,25,50,100"
            ) from None
    else:
        step = step_weight or 20
        if not 1 <= step <= 100 or not 1 <= max_weight <= 100:
            raise InvalidInput("--step-weight and --max-weight must be within 1..100")
        weights = (*tuple(range(step, max_weight, step)), max_weight)
    if not weights or any(not 1 <= w <= 100 for w in weights):
        raise InvalidInput(f"canary steps must be within 1..100, got {list(weights)}")
    if any(b <= a for a, b in itertools.pairwise(weights)):
        raise InvalidInput(f"canary steps must increase, got {list(weights)}")
    return weights


@dataclass(frozen=True)
class RolloutSpec:
    """How a rollout advances and what it checks (the `rollout start` options)."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval: float = 60.0
    threshold: int = 2
    min_requests: int = 100
    max_error_rate: float | None = 0.01
    max_latency_p99_ms: float | None = None
    max_latency_ratio: float | None = None
    max_prediction_drift: float | None = None
    min_accuracy_delta: float | None = None
    min_labels: int = 200
    max_shadow_disagreement: float | None = None
    no_data_deadline: float | None = None  # seconds; default five intervals

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise InvalidInput(f"--interval must be positive, got {self.interval}")
        if self.threshold < 1:
            raise InvalidInput(f"--threshold must be at least 1, got {self.threshold}")
        if self.min_requests < 1 or self.min_labels < 1:
            raise InvalidInput("--min-requests and --min-labels must be at least 1")
        if self.max_latency_p99_ms is not None and self.max_latency_ratio is not None:
            raise InvalidInput("give --max-latency-p99-ms or --max-latency-ratio, not both")
        for name in (
            "interval", "max_error_rate", "max_latency_p99_ms", "max_latency_ratio",
            "max_prediction_drift", "min_accuracy_delta", "max_shadow_disagreement",
            "no_data_deadline",
        ):  # fmt: skip
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidInput(
                    f"--{name.replace('_', '-')} must be a finite number, got {value}"
                )
        for name in ("max_error_rate", "max_prediction_drift", "max_shadow_disagreement"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"--{name.replace('_', '-')} must not be negative")
        steps_from(",".join(map(str, self.steps)), None)

    @property
    def deadline(self) -> float:
        return self.no_data_deadline if self.no_data_deadline is not None else 5 * self.interval

    def checks(self) -> list[Check]:
        found: list[Check] = []
        if self.max_error_rate is not None:
            found.append(ErrorRateCheck(self.max_error_rate, self.min_requests))
        if self.max_latency_p99_ms is not None or self.max_latency_ratio is not None:
            found.append(
                LatencyCheck(
                    max_p99_ms=self.max_latency_p99_ms,
                    max_ratio=self.max_latency_ratio,
                    min_requests=self.min_requests,
                )
            )
        if self.max_prediction_drift is not None:
            found.append(PredictionDriftCheck(self.max_prediction_drift, self.min_requests))
        if self.min_accuracy_delta is not None:
            found.append(AccuracyDeltaCheck(self.min_accuracy_delta, self.min_labels))
        if self.max_shadow_disagreement is not None:
            found.append(ShadowDisagreementCheck(self.max_shadow_disagreement, self.min_requests))
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["steps"] = tuple(values.get("steps", cls.steps))
        return cls(**values)


class MetricsSource(Protocol):
    """Where the controller reads what each variant did during a window."""

    def window(
        self, deployment: str, champion: str, candidate: str, since: float, until: float,
        *, shadow: str | None = None,
    ) -> CanaryWindow: ...  # fmt: skip

    def ready(self, deployment: str, variant: str) -> bool: ...

    def observe(self, deployment: str) -> None:
        """Called on every poll: a chance to snapshot counters near each step's start."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]


class Rollouts:
    """Start, inspect and steer rollouts. ``promote_alias(name, alias, version)`` moves a
    registry alias; ``check_candidate(champion_uri, candidate_uri)`` refuses an incompatible
    candidate (a different signature); ``version_of(uri)`` names the registry version a URI
    points at (``(name, version)``, or ``None`` for a model outside the registry)."""

    def __init__(
        self,
        store: Store,
        deployments: Deployments,
        *,
        promote_alias: Callable[[str, str, int], None] | None = None,
        version_of: Callable[[str], tuple[str, int] | None] | None = None,
        check_candidate: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
        on_traffic: Callable[[Deployment], None] | None = None,
    ) -> None:
        self.sql = SqlRollouts(store, clock)
        self.deployments = deployments
        self._promote_alias = promote_alias
        self._version_of = version_of
        self._check_candidate = check_candidate
        self.clock = clock
        # Called after every weight change, e.g. to patch an Istio VirtualService.
        self._on_traffic = on_traffic

    # -- starting -----------------------------------------------------------------------
    def start(
        self,
        deployment: str,
        candidate_uri: str,
        spec: RolloutSpec,
        *,
        candidate: str = "candidate",
        source: Mapping[str, Any] | None = None,
    ) -> RolloutRow:
        """Add the candidate variant and give it the first step's weight. ``source`` (kept
        with the spec) tells a resumed controller where to read metrics."""
        from loopline.rollout.sources import check_source

        check_source(source or {})
        current = self.deployments.get(deployment)
        primary = current.policy.primary
        if candidate == primary:
            raise InvalidInput(f"the candidate cannot take the primary variant's name {primary!r}")
        try:
            active: RolloutRow | None = self.sql.current(deployment)
        except NotFound:
            active = None
        if active is not None and active.active:
            raise Conflict(
                f"deployment {deployment!r} already has a rollout in progress "
                f"({active.phase}, weight {active.weight}%)",
                hint=f"follow it with `loopline rollout status {deployment}`, or end it with "
                f"`loopline rollout abort {deployment}`",
            )
        champion_uri = current.variants[primary]
        if candidate_uri == champion_uri or (
            self._version_of is not None
            and (target := self._version_of(candidate_uri)) is not None
            and target == self._previous_version(champion_uri)
        ):
            raise InvalidInput(
                f"the candidate {candidate_uri} is already the champion of {deployment!r} "
                f"({champion_uri})",
                hint="a canary compares a new model version with the one serving now",
            )
        if self._check_candidate is not None:
            self._check_candidate(champion_uri, candidate_uri)
        if candidate in current.variants:
            if current.policy.weights[candidate]:
                raise Conflict(
                    f"variant {candidate!r} of {deployment!r} already receives traffic",
                    hint="move its traffic away first, or name the candidate differently",
                )
            self.deployments.remove_variant(deployment, candidate, by_rollout=True)
        self.deployments.add_variant(deployment, candidate, candidate_uri)
        now = self.clock()
        row = RolloutRow(
            uuid.uuid4().hex, deployment, candidate, candidate_uri, PROGRESSING, 0, 0, 0,
            {**spec.to_dict(), "source": dict(source or {})}, None, now, now, now, None, None,
            None,
        )  # fmt: skip
        try:
            row = self.sql.insert(row)
        except Conflict:
            self.deployments.remove_variant(deployment, candidate, by_rollout=True)
            raise
        self._event(row, "started", candidate_uri=candidate_uri, spec=spec.to_dict())
        return self._set_weight(row, spec.steps[0], "first step")

    # -- reading ------------------------------------------------------------------------
    def current(self, deployment: str) -> RolloutRow:
        return self.sql.current(deployment)

    def events(self, deployment: str) -> list[dict[str, Any]]:
        return [
            {"at": e.at, "revision": e.revision, **e.detail}
            for e in self.deployments.history(deployment)
            if e.kind == "rollout"
        ]

    def current_or_missing(self, deployment: str) -> RolloutRow:
        """The current rollout; a deployment that does not exist (and never had a rollout)
        is named as such, not as one without a rollout."""
        try:
            return self.sql.current(deployment)
        except NotFound:
            self.deployments.get(deployment)  # "deployment X does not exist"
            raise

    def status(self, deployment: str) -> dict[str, Any]:
        row = self.current_or_missing(deployment)
        spec = RolloutSpec.from_dict(row.spec)
        events = [e for e in self.events(deployment) if e.get("rollout") == row.id]
        return {
            "deployment": row.deployment,
            "rollout": row.id,
            "phase": row.phase,
            "weight": row.weight,
            "step": row.step,
            "steps": list(spec.steps),
            "failed_checks": row.failed_checks,
            "threshold": spec.threshold,
            "candidate": row.candidate,
            "candidate_uri": row.candidate_uri,
            "reason": row.reason,
            "started_at": row.started_at,
            "next_check_at": row.step_started_at + spec.interval if row.active else None,
            "events": events,
        }

    # -- steering -----------------------------------------------------------------------
    def pause(self, deployment: str) -> RolloutRow:
        row = self._active(deployment, "pause")
        if row.phase == PAUSED:
            return row
        row = self.sql.save(replace(row, phase=PAUSED))
        self._event(row, "paused")
        return row

    def resume(self, deployment: str) -> RolloutRow:
        row = self._active(deployment, "resume")
        if row.phase != PAUSED:
            return row
        row = self.sql.save(
            replace(row, phase=PROGRESSING, step_started_at=self.clock(), waiting_since=None)
        )
        self._event(row, "resumed")
        return row

    def promote(self, deployment: str, reason: str = "promoted by hand") -> RolloutRow:
        return self._promote(self._active(deployment, "promote"), reason)

    def abort(self, deployment: str, reason: str = "aborted by hand") -> RolloutRow:
        return self._rollback(self._active(deployment, "abort"), reason)

    def _active(self, deployment: str, verb: str) -> RolloutRow:
        row = self.current_or_missing(deployment)
        if not row.active:
            raise Conflict(
                f"the last rollout of {deployment!r} has ended ({row.phase}): nothing to {verb}",
                hint=f"start a new one with `loopline rollout start {deployment} --candidate URI`",
            )
        return row

    # -- decisions (used by the controller) ---------------------------------------------
    def _event(self, row: RolloutRow, action: str, **detail: Any) -> None:
        self.deployments.record(
            row.deployment,
            "rollout",
            {"rollout": row.id, "action": action, "phase": row.phase, "weight": row.weight,
             "failed_checks": row.failed_checks, **detail},
        )  # fmt: skip

    def _split(self, deployment: Deployment, candidate: str, weight: int) -> dict[str, int]:
        primary = deployment.policy.primary
        others = {
            v: w for v, w in deployment.policy.weights.items() if v not in (primary, candidate)
        }
        return {**others, candidate: weight, primary: 100 - weight - sum(others.values())}

    def _set_weight(self, row: RolloutRow, weight: int, why: str, **detail: Any) -> RolloutRow:
        current = self.deployments.get(row.deployment)
        split = self._split(current, row.candidate, weight)
        if split[current.policy.primary] < 0:
            raise Conflict(
                f"other variants of {row.deployment!r} hold too much traffic for weight {weight}"
            )
        self._traffic(
            self.deployments.set_traffic(
                row.deployment, split, reason=f"rollout: {why}", by_rollout=True
            )
        )
        step = row.step if weight == row.weight else _step_index(row, weight)
        row = self.sql.save(
            replace(row, weight=weight, step=step, step_started_at=self.clock(),
                    waiting_since=None)
        )  # fmt: skip
        self._event(row, "weight", reason=why, **detail)
        return row

    def _traffic(self, deployment: Deployment) -> None:
        if self._on_traffic is not None:
            self._on_traffic(deployment)

    def _rollback(self, row: RolloutRow, reason: str, **detail: Any) -> RolloutRow:
        try:
            current = self.deployments.get(row.deployment)
            if row.candidate in current.variants:
                split = self._split(current, row.candidate, 0)
                self._traffic(
                    self.deployments.set_traffic(
                        row.deployment, split, reason=f"rollback: {reason}", by_rollout=True
                    )
                )
        except NotFound as exc:  # a deleted deployment still ends the rollout
            detail["rollback_error"] = exc.message
            reason = (
                f"{reason} (deployment {row.deployment!r} no longer exists: "
                "no traffic to move back)"
            )
        row = self.sql.save(replace(row, phase=FAILED, weight=0, reason=reason))
        self._event(row, "rolled-back", reason=reason, **detail)
        return row

    def _promote(self, row: RolloutRow, reason: str, **detail: Any) -> RolloutRow:
        current = self.deployments.get(row.deployment)
        primary = current.policy.primary
        primary_uri = current.variants[primary]
        # Every precondition before anything moves: a failed promotion changes nothing.
        if row.candidate not in current.variants:
            raise Conflict(
                f"deployment {row.deployment!r} has no variant {row.candidate!r} any more: "
                "nothing to promote (the champion alias was not moved)",
                hint=f"end this rollout with `loopline rollout abort {row.deployment}` and "
                "start a new one",
            )
        if current.variants[row.candidate] != row.candidate_uri:
            raise Conflict(
                f"variant {row.candidate!r} of {row.deployment!r} now serves "
                f"{current.variants[row.candidate]}, not the rollout's {row.candidate_uri}: "
                "nothing was promoted",
                hint=f"end this rollout with `loopline rollout abort {row.deployment}`",
            )
        if self._split(current, row.candidate, 0)[primary] < 0:
            raise Conflict(f"other variants of {row.deployment!r} hold too much traffic")
        previous = self._previous_version(primary_uri)
        moved = self._move_alias(primary_uri, row.candidate_uri)
        try:
            if moved is None:
                self.deployments.replace_variant(
                    row.deployment, primary, row.candidate_uri, by_rollout=True
                )
            split = self._split(self.deployments.get(row.deployment), row.candidate, 0)
            self._traffic(
                self.deployments.set_traffic(
                    row.deployment, split, reason=f"promotion: {reason}", by_rollout=True
                )
            )
            self.deployments.remove_variant(row.deployment, row.candidate, by_rollout=True)
        except Exception:
            if moved is not None and previous is not None and self._promote_alias is not None:
                alias = primary_uri.rsplit("@", 1)[1]
                self._promote_alias(previous[0], alias, previous[1])  # undo: nothing half-done
            raise
        row = self.sql.save(replace(row, phase=SUCCEEDED, weight=100, reason=reason))
        self._event(row, "promoted", reason=reason, alias=moved, **detail)
        return row

    def _previous_version(self, primary_uri: str) -> tuple[str, int] | None:
        """Where the primary's alias points now (to move it back if a promotion fails)."""
        if self._version_of is None:
            return None
        try:
            return self._version_of(primary_uri)
        except LooplineError:
            return None

    def _move_alias(self, primary_uri: str, candidate_uri: str) -> str | None:
        """Move the primary's alias to the candidate's version, if both live in the registry."""
        from loopline.core.uris import parse_model_uri

        parsed = parse_model_uri(primary_uri)
        if parsed.kind != "registry" or not parsed.alias or self._promote_alias is None:
            return None
        target = self._version_of(candidate_uri) if self._version_of else None
        if target is None or target[0] != parsed.name:
            return None
        self._promote_alias(parsed.name, parsed.alias, target[1])
        return f"models:/{parsed.name}@{parsed.alias} -> version {target[1]}"


def _step_index(row: RolloutRow, weight: int) -> int:
    steps = list(RolloutSpec.from_dict(row.spec).steps)
    return steps.index(weight) if weight in steps else row.step


class Controller:
    """Drives rollouts: :meth:`tick` makes one decision when an interval has passed."""

    def __init__(
        self,
        rollouts: Rollouts,
        source: MetricsSource,
        *,
        owner: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.rollouts = rollouts
        self.source = source
        self.owner = owner or _owner()
        self.clock = clock or rollouts.clock
        self._warned: dict[str, float] = {}

    def _warn(self, message: str) -> None:
        """Log a warning once per distinct message per minute (a down server is polled every
        second)."""
        now = time.monotonic()
        if now - self._warned.get(message, -math.inf) >= 60.0:
            self._warned[message] = now
            log.warning("%s", message)

    def tick(self, deployment: str) -> RolloutRow:
        row = self.rollouts.sql.current(deployment)
        if row.phase != PROGRESSING:
            return row
        spec = RolloutSpec.from_dict(row.spec)
        now = self.clock()
        if now < row.step_started_at + spec.interval:
            return row
        if row.waiting_since is not None and now < row.updated_at + spec.interval:
            return row  # waiting for data: look again one interval after the last look
        if not self.rollouts.sql.acquire(row.id, self.owner, 2 * spec.interval + 10):
            held = self.rollouts.sql.get(row.id)
            until = held.lease_until or time.time()
            raise LeaseHeld(
                f"another controller ({held.owner}) drives the rollout of {deployment!r}; its "
                f"lease ends at {_clock_time(until)} (if it was killed, a controller can take "
                "over then)",
                until=until,
                hint="only one `loopline rollout` controller may run per deployment; "
                f"`loopline rollout run {deployment}` waits for the lease of a killed one",
            )
        try:
            current = self.rollouts.deployments.get(deployment)
        except NotFound:
            return self.rollouts._rollback(row, f"deployment {deployment!r} was deleted")
        try:
            ready = self.source.ready(deployment, row.candidate)
        except RemoteError as exc:  # as "not ready" (servers may still be starting), but
            self._warn(exc.message)  # named as what it is when the deadline passes
            if now - row.step_started_at > spec.deadline:
                return self._fail(row, spec, [], f"metrics unreachable: {exc.message}")
            return row
        if not ready:
            if now - row.step_started_at > spec.deadline:
                return self._fail(row, spec, [], f"candidate not ready after {spec.deadline:g}s")
            return row
        shadow = current.policy.shadow
        try:
            window = self.source.window(
                deployment, current.policy.primary, row.candidate, row.step_started_at, now,
                shadow=shadow.variant if shadow is not None else None,
            )  # fmt: skip
        except RemoteError as exc:  # as in Flagger, a metric that cannot be read fails the check
            return self._fail(row, spec, [], f"metrics unavailable: {exc.message}")
        checks = spec.checks()
        if row.weight >= 100:  # no champion traffic left to compare with
            checks = [c for c in checks if not c.comparative]
        results = [check.evaluate(window) for check in checks]
        inputs = {
            "window": [window.since, window.until],
            "checks": [r.to_dict() for r in results],
        }
        failed = [r for r in results if r.passed is False]
        undecided = [r for r in results if r.passed is None]
        if failed:
            names = ", ".join(f"{r.name} {_value(r)} (limit {r.limit:g})" for r in failed)
            return self._fail(row, spec, results, f"failed: {names}", **inputs)
        if undecided:
            waiting_since = row.waiting_since or row.step_started_at
            if now - waiting_since > spec.deadline:
                names = "; ".join(f"{r.name}: {r.detail}" for r in undecided)
                return self._fail(
                    row, spec, results,
                    f"no decision within {spec.deadline:g}s ({names})", **inputs,
                )  # fmt: skip
            row = self.rollouts.sql.save(replace(row, waiting_since=waiting_since))
            self.rollouts._event(row, "waiting", **inputs)
            return row
        steps = list(spec.steps)
        later = [w for w in steps if w > row.weight]
        if not later:
            return self.rollouts._promote(row, "every step passed its checks", **inputs)
        return self.rollouts._set_weight(row, later[0], "checks passed", **inputs)

    def _fail(
        self, row: RolloutRow, spec: RolloutSpec, results: list[CheckResult], reason: str,
        **inputs: Any,
    ) -> RolloutRow:  # fmt: skip
        failed = row.failed_checks + 1
        if failed >= spec.threshold:
            row = replace(row, failed_checks=failed)
            return self.rollouts._rollback(
                row, f"{failed} failed checks (threshold {spec.threshold}); last: {reason}",
                **inputs,
            )  # fmt: skip
        row = self.rollouts.sql.save(
            replace(row, failed_checks=failed, step_started_at=self.clock(), waiting_since=None),
            owner=self.owner,
        )
        self.rollouts._event(row, "check-failed", reason=reason, **inputs)
        return row

    def run(
        self,
        deployment: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_tick: Callable[[RolloutRow], None] | None = None,
        poll: float = 1.0,
        on_wait: Callable[[float], None] | None = None,
    ) -> RolloutRow:
        """Drive the rollout until it succeeds or fails; safe to restart after a kill.

        When another controller's lease is held (one killed moments ago), it waits once for
        that lease to end — telling ``on_wait`` until when — instead of failing; a lease
        renewed meanwhile belongs to a live controller and is refused."""
        row = self.rollouts.sql.current(deployment)
        waited = False
        try:
            while row.active:
                try:
                    self.source.observe(deployment)
                except RemoteError as exc:  # a missed snapshot only widens the next window
                    self._warn(exc.message)
                try:
                    row = self.tick(deployment)
                except LeaseHeld as held:
                    if waited:
                        raise
                    waited = True
                    if on_wait is not None:
                        on_wait(held.until)
                    sleep(max(held.until - time.time(), 0.0) + 0.5)
                    continue
                if on_tick is not None:
                    on_tick(row)
                if not row.active:
                    break
                spec = RolloutSpec.from_dict(row.spec)
                wait = row.step_started_at + spec.interval - self.clock()
                sleep(min(max(wait, 0.05), poll))
        finally:
            self.rollouts.sql.release(row.id, self.owner)
        return row


class LeaseHeld(Conflict):
    """Another controller holds the rollout's lease until ``until`` (epoch seconds)."""

    def __init__(self, message: str, *, until: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.until = until


def _clock_time(at: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


def _value(result: CheckResult) -> str:
    return "-" if result.value is None else f"{result.value:.4g}"
