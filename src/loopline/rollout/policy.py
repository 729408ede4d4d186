"""Traffic policies: how a deployment's requests are split between its variants.

A policy is plain data (weights, a sticky key, pinning headers, a shadow, faults) with one
hot-path method, :meth:`TrafficPolicy.choose`: a few dictionary lookups and one hash. Servers hold
the current policy in one attribute that a poller swaps, so a change never needs a restart.

Sticky assignment hashes the key with the deployment's seed into 10,000 buckets. Buckets are laid
out with the primary variant last, so raising another variant's weight only moves keys from the
primary toward it — a user who saw the candidate keeps seeing it as the canary grows.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = ["BUCKETS", "PIN_HEADER", "Fault", "HeaderRoute", "Shadow", "TrafficPolicy"]

BUCKETS = 10_000
# Testers pin a variant with this header, whatever the weights say.
PIN_HEADER = "x-loopline-variant"


@dataclass(frozen=True, slots=True)
class HeaderRoute:
    """Requests whose header ``name`` equals ``value`` go to ``variant``."""

    name: str
    value: str
    variant: str


@dataclass(frozen=True, slots=True)
class Shadow:
    """A copy of ``percent`` % of requests also goes to ``variant``; never returned to callers."""

    variant: str
    percent: float = 100.0


@dataclass(frozen=True, slots=True)
class Fault:
    """Istio-style fault injection for one variant, to rehearse a rollback."""

    abort_status: int | None = None
    abort_percent: float = 0.0
    delay_seconds: float = 0.0
    delay_percent: float = 0.0


@dataclass(frozen=True)
class TrafficPolicy:
    """Weights (integers summing to 100) over named variants, and the rules around them."""

    weights: Mapping[str, int]
    primary: str
    seed: str = ""
    sticky_header: str | None = None
    sticky_cookie: str | None = None
    routes: tuple[HeaderRoute, ...] = ()
    shadow: Shadow | None = None
    faults: Mapping[str, Fault] = field(default_factory=dict)
    _layout: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        order = [name for name in sorted(self.weights) if name != self.primary] + [self.primary]
        layout: list[tuple[int, str]] = []
        upper = 0
        for name in order:
            upper += self.weights[name] * (BUCKETS // 100)
            if self.weights[name]:
                layout.append((upper, name))
        object.__setattr__(self, "_layout", tuple(layout))

    @classmethod
    def single(cls, variant: str) -> TrafficPolicy:
        return cls(weights={variant: 100}, primary=variant)

    def choose(
        self, headers: Mapping[str, str], *, cookies: Mapping[str, str] | None = None
    ) -> str:
        """The variant that answers a request with these (lower-cased) headers."""
        pinned = headers.get(PIN_HEADER)
        if pinned is not None and pinned in self.weights:
            return pinned
        for route in self.routes:
            if headers.get(route.name) == route.value:
                return route.variant
        key: str | None = None
        if self.sticky_header is not None:
            key = headers.get(self.sticky_header)
        if key is None and self.sticky_cookie is not None and cookies:
            key = cookies.get(self.sticky_cookie)
        bucket = self.bucket(key) if key is not None else random.randrange(BUCKETS)
        for upper, name in self._layout:
            if bucket < upper:
                return name
        return self.primary

    def bucket(self, key: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}\0{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % BUCKETS

    def shadows(self) -> bool:
        """Whether this request should also be copied to the shadow variant."""
        return self.shadow is not None and random.random() * 100 < self.shadow.percent

    def with_weights(self, weights: Mapping[str, int]) -> TrafficPolicy:
        data = self.to_dict()
        data["weights"] = dict(weights)
        return TrafficPolicy.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "primary": self.primary,
            "seed": self.seed,
            "sticky_header": self.sticky_header,
            "sticky_cookie": self.sticky_cookie,
            "routes": [
                {"header": r.name, "value": r.value, "variant": r.variant} for r in self.routes
            ],
            "shadow": (
                None
                if self.shadow is None
                else {"variant": self.shadow.variant, "percent": self.shadow.percent}
            ),
            "faults": {
                name: {
                    "abort_status": f.abort_status,
                    "abort_percent": f.abort_percent,
                    "delay_seconds": f.delay_seconds,
                    "delay_percent": f.delay_percent,
                }
                for name, f in self.faults.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrafficPolicy:
        try:
            shadow = data.get("shadow")
            return cls(
                weights={str(k): v for k, v in dict(data["weights"]).items()},
                primary=str(data["primary"]),
                seed=str(data.get("seed") or ""),
                sticky_header=_lower(data.get("sticky_header")),
                sticky_cookie=data.get("sticky_cookie"),
                routes=tuple(
                    HeaderRoute(str(r["header"]).lower(), str(r["value"]), str(r["variant"]))
                    for r in data.get("routes") or ()
                ),
                shadow=None if not shadow else Shadow(str(shadow["variant"]), shadow["percent"]),
                faults={
                    str(name): Fault(**dict(fault))
                    for name, fault in (data.get("faults") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"traffic policy is malformed: {exc}",
                hint="a policy needs 'weights' (variant -> integer percent) and 'primary'",
            ) from None


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _is_percent(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def _validate(policy: TrafficPolicy) -> None:
    weights = policy.weights
    if not weights:
        raise InvalidInput("a traffic policy needs at least one variant")
    for name, weight in weights.items():
        if not name or not isinstance(weight, int) or isinstance(weight, bool):
            raise InvalidInput(
                f"weight of variant {name!r} must be a whole percent, got {weight!r}",
                hint="write weights as NAME=PERCENT, e.g. champion=90 candidate=10",
            )
        if not 0 <= weight <= 100:
            raise InvalidInput(f"weight of variant {name!r} must be 0..100, got {weight}")
    total = sum(weights.values())
    if total != 100:
        shown = ", ".join(f"{k}={v}" for k, v in weights.items())
        raise InvalidInput(
            f"weights must sum to 100, got {total} ({shown})",
            hint="adjust them so they add up to 100, e.g. champion=90 candidate=10",
        )
    known = sorted(weights)
    if policy.primary not in weights:
        raise InvalidInput(f"primary variant {policy.primary!r} is not one of {known}")
    for route in policy.routes:
        if route.variant not in weights:
            raise InvalidInput(f"header route names unknown variant {route.variant!r} ({known})")
    if policy.shadow is not None:
        if policy.shadow.variant not in weights:
            raise InvalidInput(f"shadow names unknown variant {policy.shadow.variant!r} ({known})")
        if not _is_percent(policy.shadow.percent):
            raise InvalidInput(f"shadow percent must be 0..100, got {policy.shadow.percent!r}")
    for name, fault in policy.faults.items():
        if name not in weights:
            raise InvalidInput(f"fault names unknown variant {name!r} ({known})")
        if not (_is_percent(fault.abort_percent) and _is_percent(fault.delay_percent)):
            raise InvalidInput(
                f"fault percentages of {name!r} must be numbers 0..100, got abort "
                f"{fault.abort_percent!r} and delay {fault.delay_percent!r}"
            )
        status = fault.abort_status
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599
        ):
            raise InvalidInput(
                f"fault abort status of {name!r} must be a whole HTTP status 200..599, "
                f"got {status!r}",
                hint="e.g. 503",
            )
        if fault.abort_percent and fault.abort_status is None:
            raise InvalidInput(f"fault of {name!r} aborts a share of requests but names no status")
        delay = fault.delay_seconds
        if (
            not isinstance(delay, int | float)
            or isinstance(delay, bool)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise InvalidInput(
                f"fault delay of {name!r} must be a finite non-negative number of seconds, "
                f"got {delay!r}"
            )
    for option, key in (("sticky_header", policy.sticky_header),
                        ("sticky_cookie", policy.sticky_cookie)):  # fmt: skip
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise InvalidInput(
                f"{option} must be a non-empty name, got {key!r}",
                hint="name the header or cookie that identifies a user, or leave it out",
            )
