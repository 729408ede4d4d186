"""Traffic policies: weights, sticky keys, pins, shadows and faults."""

from __future__ import annotations

from collections import Counter

import pytest

from loopline.core.errors import InvalidInput
from loopline.rollout.policy import PIN_HEADER, Fault, HeaderRoute, Shadow, TrafficPolicy


def _canary(weight: int, **extra: object) -> TrafficPolicy:
    return TrafficPolicy(
        weights={"champion": 100 - weight, "candidate": weight},
        primary="champion",
        seed="churn",
        sticky_header="x-user-id",
        **extra,  # type: ignore[arg-type]
    )


def test_weights_split_unkeyed_traffic() -> None:
    policy = _canary(20)
    counts = Counter(policy.choose({}) for _ in range(20_000))
    assert 0.18 < counts["candidate"] / 20_000 < 0.22


def test_sticky_keys_land_on_the_same_variant_and_follow_the_weights() -> None:
    policy = _canary(30)
    users = [f"user-{i}" for i in range(5000)]
    first = {u: policy.choose({"x-user-id": u}) for u in users}
    assert all(policy.choose({"x-user-id": u}) == first[u] for u in users)
    share = sum(v == "candidate" for v in first.values()) / len(users)
    assert 0.27 < share < 0.33


def test_raising_the_candidate_weight_only_moves_keys_toward_it() -> None:
    users = [f"user-{i}" for i in range(5000)]
    before = {u: _canary(10).choose({"x-user-id": u}) for u in users}
    after = {u: _canary(50).choose({"x-user-id": u}) for u in users}
    assert all(after[u] == "candidate" for u in users if before[u] == "candidate")
    assert sum(v == "candidate" for v in after.values()) > 2 * sum(
        v == "candidate" for v in before.values()
    )


def test_a_different_seed_reshuffles_keys() -> None:
    users = [f"user-{i}" for i in range(2000)]
    a = _canary(50)
    b = a.with_weights(a.weights)
    assert [a.choose({"x-user-id": u}) for u in users] == [
        b.choose({"x-user-id": u}) for u in users
    ]
    data = a.to_dict() | {"seed": "other"}
    c = TrafficPolicy.from_dict(data)
    assert [a.choose({"x-user-id": u}) for u in users] != [
        c.choose({"x-user-id": u}) for u in users
    ]


def test_pin_header_and_header_routes_override_weights() -> None:
    policy = _canary(0, routes=(HeaderRoute("x-team", "qa", "candidate"),))
    assert policy.choose({PIN_HEADER: "candidate"}) == "candidate"
    assert policy.choose({"x-team": "qa"}) == "candidate"
    assert policy.choose({PIN_HEADER: "nonsense"}) == "champion"
    assert {policy.choose({}) for _ in range(200)} == {"champion"}


def test_cookie_is_a_sticky_key_too() -> None:
    policy = TrafficPolicy(weights={"a": 50, "b": 50}, primary="a", sticky_cookie="session")
    chosen = {policy.choose({}, cookies={"session": "s-1"}) for _ in range(50)}
    assert len(chosen) == 1


def test_round_trip_through_a_dict() -> None:
    policy = _canary(
        10,
        routes=(HeaderRoute("x-team", "qa", "candidate"),),
        shadow=Shadow("candidate", 25.0),
        faults={"candidate": Fault(abort_status=503, abort_percent=5.0)},
    )
    assert TrafficPolicy.from_dict(policy.to_dict()) == policy


def _fault(**fault: object) -> dict[str, object]:
    return {"weights": {"a": 100}, "primary": "a", "faults": {"a": fault}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weights": {"a": 60, "b": 30}, "primary": "a"}, "sum to 100, got 90"),
        ({"weights": {"a": 50.5, "b": 49.5}, "primary": "a"}, "whole percent"),
        ({"weights": {"a": True, "b": 99}, "primary": "a"}, "whole percent"),
        ({"weights": {"a": 150, "b": -50}, "primary": "a"}, "0..100"),
        ({"weights": {"a": 100}, "primary": "zzz"}, "primary variant"),
        (
            {"weights": {"a": 100}, "primary": "a", "shadow": {"variant": "x", "percent": 5}},
            "shadow",
        ),
        (
            {"weights": {"a": 100}, "primary": "a", "faults": {"a": {"abort_percent": 5}}},
            "names no status",
        ),
        ({"weights": {}, "primary": "a"}, "at least one"),
        (_fault(abort_status=503.5, abort_percent=100), "whole HTTP status 200..599, got 503.5"),
        (_fault(abort_status="503", abort_percent=100), "whole HTTP status 200..599, got '503'"),
        (_fault(abort_status=True, abort_percent=100), "whole HTTP status"),
        (_fault(delay_seconds=float("nan"), delay_percent=100), "finite non-negative"),
        (_fault(delay_seconds=float("inf"), delay_percent=100), "finite non-negative"),
        (_fault(delay_seconds=-1, delay_percent=100), "finite non-negative"),
        (_fault(delay_seconds=True, delay_percent=100), "finite non-negative"),
        (_fault(delay_seconds="1", delay_percent=100), "finite non-negative"),
        (_fault(abort_status=503, abort_percent=True), "numbers 0..100"),
        (_fault(delay_seconds=1, delay_percent=False), "numbers 0..100"),
        (_fault(delay_seconds=1, delay_percent=float("nan")), "numbers 0..100"),
        (
            {"weights": {"a": 100}, "primary": "a", "shadow": {"variant": "a", "percent": True}},
            "shadow percent",
        ),
        ({"weights": {"a": 100}, "primary": "a", "sticky_cookie": ""}, "sticky_cookie"),
        ({"weights": {"a": 100}, "primary": "a", "sticky_cookie": 5}, "sticky_cookie"),
        ({"weights": {"a": 100}, "primary": "a", "sticky_header": "  "}, "sticky_header"),
        ({"primary": "a"}, "malformed"),
        ({"weights": [1, 2], "primary": "a"}, "malformed"),
    ],
)
def test_bad_policies_are_refused_with_the_cause(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        TrafficPolicy.from_dict(data)


def test_shadow_share_is_respected() -> None:
    policy = _canary(0, shadow=Shadow("candidate", 30.0))
    share = sum(policy.shadows() for _ in range(20_000)) / 20_000
    assert 0.27 < share < 0.33
    assert not _canary(0).shadows()
