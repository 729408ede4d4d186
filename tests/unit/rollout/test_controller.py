"""The canary controller's decisions, on a real SQLite store with a scripted metrics source.

The metrics source is the controller's input interface; here it replays chosen windows so each
decision rule can be pinned. The real sources (server /metrics, Prometheus) have their own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from loopline.core.errors import Conflict, InvalidInput, NotFound, RemoteError
from loopline.rollout.checks import CanaryWindow, VariantWindow
from loopline.rollout.controller import Controller, Rollouts, RolloutSpec, steps_from
from loopline.rollout.deployments import Deployments
from loopline.store import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class ScriptedSource:
    """Every window: the candidate answered ``requests`` with ``errors`` failures."""

    def __init__(self, requests: int = 500, errors: int = 0, ready: bool = True) -> None:
        self.requests, self.errors, self.is_ready = requests, errors, ready
        self.windows: list[tuple[float, float]] = []

    def ready(self, deployment: str, variant: str) -> bool:
        return self.is_ready

    def observe(self, deployment: str) -> None:
        pass

    def window(
        self,
        deployment: str,
        champion: str,
        candidate: str,
        since: float,
        until: float,
        *,
        shadow: str | None = None,
    ) -> CanaryWindow:
        self.windows.append((since, until))
        rng = np.random.default_rng(0)
        return CanaryWindow(
            since,
            until,
            candidate=VariantWindow(self.requests, self.errors, 12.0, rng.normal(0, 1, 300)),
            champion=VariantWindow(5000, 0, 10.0, rng.normal(0, 1, 300)),
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def setup(tmp_path: Path, clock: Clock) -> tuple[Rollouts, Deployments, list[tuple[str, str, int]]]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    deployments = Deployments(store)
    deployments.create("churn", {"champion": "models:/churn@champion"})
    moved: list[tuple[str, str, int]] = []
    rollouts = Rollouts(
        store,
        deployments,
        promote_alias=lambda name, alias, version: moved.append((name, alias, version)),
        version_of=lambda uri: ("churn", 3 if "@" in uri else int(uri.rsplit("/", 1)[1])),
        clock=clock,
    )
    return rollouts, deployments, moved


SPEC = RolloutSpec(steps=(10, 50, 100), interval=30, threshold=2, max_error_rate=0.01)


def _advance(controller: Controller, clock: Clock, times: int = 1) -> None:
    for _ in range(times):
        clock.now += 31
        controller.tick("churn")


def test_a_healthy_candidate_is_promoted_step_by_step(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, moved = setup
    row = rollouts.start("churn", "models:/churn/4", SPEC)
    assert row.weight == 10
    assert dict(deployments.get("churn").policy.weights) == {"champion": 90, "candidate": 10}
    controller = Controller(rollouts, ScriptedSource(), clock=clock)
    controller.tick("churn")  # before the interval: no decision
    assert rollouts.current("churn").weight == 10
    _advance(controller, clock)
    assert dict(deployments.get("churn").policy.weights) == {"champion": 50, "candidate": 50}
    _advance(controller, clock, 2)
    status = rollouts.status("churn")
    assert status["phase"] == "Succeeded"
    assert moved == [("churn", "champion", 4)]
    after = deployments.get("churn")
    assert after.variants == {"champion": "models:/churn@champion"}
    assert dict(after.policy.weights) == {"champion": 100}
    actions = [e["action"] for e in status["events"]]
    assert actions == ["started", "weight", "weight", "weight", "promoted"]
    checks = status["events"][2]["checks"]
    assert checks[0]["check"] == "error-rate" and checks[0]["passed"] is True
    assert checks[0]["samples"] == 500


def test_a_failing_candidate_is_rolled_back_at_the_threshold(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, moved = setup
    rollouts.start("churn", "models:/churn/5", SPEC)
    controller = Controller(rollouts, ScriptedSource(errors=25), clock=clock)
    _advance(controller, clock)
    first = rollouts.current("churn")
    assert (first.phase, first.failed_checks, first.weight) == ("Progressing", 1, 10)
    _advance(controller, clock)
    status = rollouts.status("churn")
    assert status["phase"] == "Failed"
    assert "2 failed checks" in status["reason"] and "error-rate 0.05" in status["reason"]
    assert dict(deployments.get("churn").policy.weights) == {"champion": 100, "candidate": 0}
    assert moved == []  # the alias is untouched
    with pytest.raises(Conflict, match="has ended"):
        rollouts.promote("churn")


def test_too_few_requests_waits_then_fails_after_the_deadline(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    spec = RolloutSpec(steps=(50, 100), interval=30, threshold=1, no_data_deadline=100)
    rollouts.start("churn", "models:/churn/4", spec)
    controller = Controller(rollouts, ScriptedSource(requests=10), clock=clock)
    _advance(controller, clock, 3)
    waiting = rollouts.current("churn")
    assert waiting.phase == "Progressing" and waiting.failed_checks == 0
    _advance(controller, clock)
    failed = rollouts.current("churn")
    assert failed.phase == "Failed"
    assert "no decision within 100s" in (failed.reason or "")
    assert "too few requests: 10 < 100" in (failed.reason or "")


def test_a_second_rollout_is_refused_and_pause_resume_abort_work(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    with pytest.raises(Conflict, match="already has a rollout"):
        rollouts.start("churn", "models:/churn/6", SPEC)
    rollouts.pause("churn")
    controller = Controller(rollouts, ScriptedSource(), clock=clock)
    _advance(controller, clock, 3)
    assert rollouts.current("churn").weight == 10  # paused: no step
    rollouts.resume("churn")
    _advance(controller, clock)
    assert rollouts.current("churn").weight == 50
    rollouts.abort("churn")
    assert rollouts.current("churn").phase == "Failed"
    assert dict(deployments.get("churn").policy.weights)["candidate"] == 0
    # A new rollout may start once the last one ended; the old candidate variant is replaced.
    again = rollouts.start("churn", "models:/churn/6", SPEC)
    assert deployments.get("churn").variants["candidate"] == "models:/churn/6"
    assert again.weight == 10


def test_a_restarted_controller_resumes_and_two_never_drive_one_rollout(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    first = Controller(rollouts, ScriptedSource(), clock=clock, owner="first")
    _advance(first, clock)
    assert rollouts.current("churn").weight == 50
    second = Controller(rollouts, ScriptedSource(), clock=clock, owner="second")
    clock.now += 31
    with pytest.raises(Conflict, match="another controller") as refused:
        second.tick("churn")
    assert "lease ends at" in refused.value.message and "killed" in refused.value.message
    # The first controller is killed; once its lease runs out the second takes over.
    clock.now += 200
    import time as real_time

    rollouts.sql.store.write(
        lambda conn: conn.exec_driver_sql(
            "UPDATE rollouts SET lease_until = ?", (real_time.time() - 1,)
        )
    )
    second.tick("churn")
    assert rollouts.current("churn").weight == 100


def test_a_deployment_deleted_mid_rollout_fails_it(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    with pytest.raises(Conflict, match="rollout in progress") as refused:
        deployments.delete("churn")
    assert "loopline rollout abort churn" in (refused.value.hint or "")
    # A deployment deleted behind the rollout's back (an older store) still ends it.
    rollouts.sql.store.write(
        lambda conn: conn.exec_driver_sql("DELETE FROM deployments WHERE name = 'churn'")
    )
    controller = Controller(rollouts, ScriptedSource(), clock=clock)
    _advance(controller, clock)
    assert rollouts.current("churn").phase == "Failed"
    assert "was deleted" in (rollouts.current("churn").reason or "")


def test_abort_of_an_orphaned_rollout_says_nothing_could_be_moved_back(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    rollouts.sql.store.write(
        lambda conn: conn.exec_driver_sql("DELETE FROM deployments WHERE name = 'churn'")
    )
    row = rollouts.abort("churn")
    assert row.phase == "Failed"
    assert "no longer exists" in (row.reason or "")
    # The recreated deployment is free for a new rollout.
    deployments.create("churn", {"champion": "models:/churn@champion"})
    assert rollouts.start("churn", "models:/churn/6", SPEC).weight == 10


def test_manual_traffic_changes_are_refused_while_a_rollout_runs(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    changes: list[Callable[[], object]] = [
        lambda: deployments.set_traffic("churn", {"champion": 100}),
        lambda: deployments.remove_variant("churn", "candidate"),
        lambda: deployments.replace_variant("churn", "candidate", "models:/churn/6"),
    ]
    for change in changes:
        with pytest.raises(Conflict, match="rollout in progress") as refused:
            change()
        assert "loopline rollout abort churn" in (refused.value.hint or "")
    assert dict(deployments.get("churn").policy.weights) == {"champion": 90, "candidate": 10}
    policy = deployments.get("churn").policy
    with pytest.raises(Conflict, match="rollout in progress"):
        deployments.set_policy("churn", policy.with_weights({"champion": 100, "candidate": 0}))
    deployments.set_policy("churn", policy)  # same weights (a fault, a sticky key): allowed
    rollouts.abort("churn")
    deployments.set_traffic("churn", {"champion": 100})  # allowed once it ended


def test_a_failed_promotion_leaves_the_alias_where_it_was(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, moved = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    # The candidate went away behind the rollout's back (an older client, raw SQL).
    deployments.set_traffic("churn", {"champion": 100}, by_rollout=True)
    deployments.remove_variant("churn", "candidate", by_rollout=True)
    with pytest.raises(Conflict, match="no variant 'candidate'"):
        rollouts.promote("churn")
    assert moved == []
    assert rollouts.current("churn").phase == "Progressing"


def test_a_promotion_failing_after_the_alias_moved_moves_it_back(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, moved = setup
    rollouts.start("churn", "models:/churn/4", SPEC)

    def broken(*args: object, **kwargs: object) -> None:
        raise Conflict("store went away")

    deployments.remove_variant = broken
    with pytest.raises(Conflict, match="store went away"):
        rollouts.promote("churn")
    assert moved == [("churn", "champion", 4), ("churn", "champion", 3)]


def test_a_canary_of_the_champion_itself_is_refused(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    for same in ("models:/churn/3", "models:/churn@champion"):
        with pytest.raises(InvalidInput, match="already the champion"):
            rollouts.start("churn", same, SPEC)
    assert "candidate" not in deployments.get("churn").variants


def test_status_of_a_missing_deployment_says_it_does_not_exist(setup) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    with pytest.raises(NotFound, match="deployment 'nosuch' does not exist"):
        rollouts.status("nosuch")
    with pytest.raises(NotFound, match="has no rollout"):
        rollouts.status("churn")


def test_run_waits_for_the_lease_of_a_killed_controller(setup, clock) -> None:  # type: ignore[no-untyped-def]
    import time as real_time

    rollouts, _, _ = setup
    row = rollouts.start("churn", "models:/churn/4", SPEC)
    rollouts.sql.acquire(row.id, "killed", 1.5)  # a controller killed with -9 keeps its lease
    clock.now += 31
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        real_time.sleep(seconds if seconds > 1.0 else 0.0)  # only the lease wait is real
        clock.now += 31

    controller = Controller(rollouts, ScriptedSource(), clock=clock)
    final = controller.run("churn", sleep=sleep, on_wait=waits.append)
    assert final.phase == "Succeeded"
    assert len(waits) == 1 and waits[0] <= real_time.time()


class UnreachableSource(ScriptedSource):
    def ready(self, deployment: str, variant: str) -> bool:
        raise RemoteError("cannot read http://127.0.0.1:9/metrics: connection refused")

    def observe(self, deployment: str) -> None:
        raise RemoteError("cannot read http://127.0.0.1:9/metrics: connection refused")


def test_unreachable_metrics_are_named_as_the_cause_and_warned_once(  # type: ignore[no-untyped-def]
    setup, clock, caplog
) -> None:
    rollouts, _, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    controller = Controller(rollouts, UnreachableSource(), clock=clock)

    def sleep(seconds: float) -> None:
        clock.now += 5

    with caplog.at_level("WARNING"):
        final = controller.run("churn", sleep=sleep)
    assert final.phase == "Failed"
    assert "metrics unreachable: cannot read http://127.0.0.1:9/metrics" in (final.reason or "")
    assert "not ready" not in (final.reason or "")
    assert len([r for r in caplog.records if "connection refused" in r.message]) == 1


@pytest.mark.parametrize(
    "source",
    [{"metrics_urls": ["127.0.0.1:8080/metrics"]}, {"metrics_urls": ["ftp://h/x"]},
     {"prometheus_url": "localhost:9090"}],
)  # fmt: skip
def test_metric_urls_must_be_http(setup, source) -> None:  # type: ignore[no-untyped-def]
    rollouts, deployments, _ = setup
    with pytest.raises(InvalidInput, match="is not an http"):
        rollouts.start("churn", "models:/churn/4", SPEC, source=source)
    assert "candidate" not in deployments.get("churn").variants


def test_run_drives_to_the_end(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    rollouts.start("churn", "models:/churn/4", SPEC)
    controller = Controller(rollouts, ScriptedSource(), clock=clock)

    def sleep(seconds: float) -> None:
        clock.now += 31

    final = controller.run("churn", sleep=sleep)
    assert final.phase == "Succeeded"


@pytest.mark.parametrize(
    ("steps", "step_weight", "max_weight", "expected"),
    [
        ("10,25,50,100", None, 100, (10, 25, 50, 100)),
        (None, 20, 100, (20, 40, 60, 80, 100)),
        (None, 30, 50, (30, 50)),
    ],
)
def test_steps(steps, step_weight, max_weight, expected) -> None:  # type: ignore[no-untyped-def]
    assert steps_from(steps, step_weight, max_weight) == expected


@pytest.mark.parametrize(
    ("steps", "step_weight"), [("10,5", None), ("0,50", None), ("x", None), ("10", 5)]
)
def test_bad_steps_are_refused(steps, step_weight) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        steps_from(steps, step_weight)


def test_bad_specs_are_refused() -> None:
    for bad in (
        {"max_error_rate": float("nan")},
        {"max_prediction_drift": float("inf")},
        {"max_latency_ratio": float("nan")},
        {"interval": 0},
        {"threshold": 0},
        {"max_latency_p99_ms": 50, "max_latency_ratio": 1.5},
        {"max_error_rate": -1},
    ):
        with pytest.raises(InvalidInput):
            RolloutSpec(**bad)


def test_comparisons_with_the_champion_are_left_out_at_full_weight(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    spec = RolloutSpec(steps=(100,), interval=30, threshold=1, max_prediction_drift=0.01)

    class NoChampion(ScriptedSource):
        def window(self, *args: object, **kwargs: object) -> CanaryWindow:
            window = super().window(*args, **kwargs)  # type: ignore[arg-type]
            return CanaryWindow(window.since, window.until, window.candidate, VariantWindow())

    rollouts.start("churn", "models:/churn/4", spec)
    controller = Controller(rollouts, NoChampion(), clock=clock)
    _advance(controller, clock)
    status = rollouts.status("churn")
    assert status["phase"] == "Succeeded"
    assert [c["check"] for c in status["events"][-1]["checks"]] == ["error-rate"]


def test_waiting_for_data_looks_again_once_per_interval(setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollouts, _, _ = setup
    spec = RolloutSpec(steps=(50, 100), interval=30, threshold=1, no_data_deadline=1000)
    rollouts.start("churn", "models:/churn/4", spec)
    source = ScriptedSource(requests=5)
    controller = Controller(rollouts, source, clock=clock)
    _advance(controller, clock)
    for _ in range(10):  # polls within the same interval decide nothing new
        clock.now += 1
        controller.tick("churn")
    assert len(source.windows) == 1
    clock.now += 30
    controller.tick("churn")
    assert len(source.windows) == 2
    assert sum(e["action"] == "waiting" for e in rollouts.status("churn")["events"]) == 2
