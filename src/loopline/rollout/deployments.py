"""Deployments: a name, its variants (each a model URI) and the traffic policy between them.

Stored in the metadata store with a revision that rises on every change and an event per change,
so model servers notice a new policy by polling one integer, and ``deploy history`` (and later
the rollout controller's decisions) read one ordered record.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loopline.core.errors import Conflict, InvalidInput, StoreError
from loopline.rollout._sql import DeploymentRow, EventRow, SqlDeployments
from loopline.rollout.policy import Shadow, TrafficPolicy
from loopline.store import Store

__all__ = ["Deployment", "DeploymentEvent", "Deployments", "check_name", "parse_weights"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
DeploymentEvent = EventRow
log = logging.getLogger(__name__)


def check_name(kind: str, name: str) -> str:
    """Names end up in URLs, Kubernetes labels and Istio subsets: keep them to that alphabet."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{kind} name {name!r} is not allowed",
            hint="use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def parse_weights(pairs: Any) -> dict[str, int]:
    """``["champion=90", "candidate=10"]`` (or one comma-separated string) as a weight map."""
    items = pairs.split(",") if isinstance(pairs, str) else list(pairs)
    weights: dict[str, int] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        digits = value.strip()
        if not sep or not (digits.isascii() and digits.isdigit()):
            raise InvalidInput(
                f"traffic weight {item!r} is not VARIANT=PERCENT",
                hint="e.g. champion=90 candidate=10 (whole percentages summing to 100)",
            )
        if name.strip() in weights:
            raise InvalidInput(f"variant {name.strip()!r} is given two weights")
        weights[name.strip()] = int(value)
    return weights


@dataclass(frozen=True)
class Deployment:
    name: str
    variants: dict[str, str]
    policy: TrafficPolicy
    revision: int
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variants": dict(self.variants),
            "policy": self.policy.to_dict(),
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _deployment(row: DeploymentRow) -> Deployment:
    policy = TrafficPolicy.from_dict(row.policy)  # checked when the row was read
    return Deployment(row.name, row.variants, policy, row.revision, row.created_at, row.updated_at)


class Deployments:
    """Deployments in one metadata store.

    ``check_model`` is called with each variant's model URI before it is stored; the CLI passes
    one that resolves ``models:/`` URIs in the registry, so a typo is refused at once rather than
    when a server starts.
    """

    def __init__(self, store: Store, check_model: Callable[[str], None] | None = None) -> None:
        self.store = store
        self._sql = SqlDeployments(store)
        self._check_model = check_model
        self.damaged_errors: list[StoreError] = []  # of the last :meth:`all`

    def _check_variants(self, variants: Mapping[str, str]) -> None:
        for variant, uri in variants.items():
            check_name("variant", variant)
            if not isinstance(uri, str) or not uri.strip():
                raise InvalidInput(f"variant {variant!r} has no model URI")
            if self._check_model is not None:
                self._check_model(uri)

    def create(
        self,
        name: str,
        variants: Mapping[str, str],
        *,
        primary: str | None = None,
        weights: Mapping[str, int] | None = None,
        sticky_header: str | None = None,
        shadow: Shadow | None = None,
    ) -> Deployment:
        check_name("deployment", name)
        if not variants:
            raise InvalidInput(f"deployment {name!r} needs at least one variant")
        self._check_variants(variants)
        primary = primary or next(iter(variants))
        if weights is None:
            weights = {v: (100 if v == primary else 0) for v in variants}
        else:
            weights = {v: int(weights.get(v, 0)) for v in variants} | dict(weights)
        unknown = sorted(set(weights) - set(variants))
        if unknown:
            raise InvalidInput(f"weights name unknown variants {unknown} ({sorted(variants)})")
        policy = TrafficPolicy(
            weights=weights, primary=primary, seed=secrets.token_hex(8),
            sticky_header=None if sticky_header is None else sticky_header.lower(),
            shadow=shadow,
        )  # fmt: skip
        return _deployment(self._sql.create(name, dict(variants), policy.to_dict()))

    def get(self, name: str) -> Deployment:
        return _deployment(self._sql.get(name))

    def all(self) -> list[Deployment]:
        """Every deployment that can be read; a damaged one is logged as a warning by name
        (see :meth:`damaged`) and the others are still listed."""
        rows, errors = self._sql.all()
        for exc in errors:
            log.warning("%s (%s)", exc.message, exc.hint)
        self.damaged_errors = errors
        return [_deployment(row) for row in rows]

    def revision(self, name: str) -> int | None:
        """The current revision (``None`` once deleted): what a server polls."""
        return self._sql.revision(name)

    def set_traffic(
        self,
        name: str,
        weights: Mapping[str, int],
        *,
        reason: str = "",
        expected_revision: int | None = None,
        by_rollout: bool = False,
    ) -> Deployment:
        """New weights; variants not named get 0. Refused unless they sum to 100, and while a
        rollout is active unless ``by_rollout`` (the rollout itself steering)."""

        def mutate(row: DeploymentRow) -> tuple[dict[str, str], dict[str, Any]]:
            unknown = sorted(set(weights) - set(row.variants))
            if unknown:
                raise InvalidInput(
                    f"deployment {name!r} has no variant {', '.join(map(repr, unknown))}",
                    hint=f"its variants are {sorted(row.variants)}; add one with "
                    f"`loopline deploy add-variant {name} NAME=URI`",
                )
            full = {v: int(weights.get(v, 0)) for v in row.variants}
            policy = TrafficPolicy.from_dict(row.policy).with_weights(full)
            return row.variants, policy.to_dict()

        return _deployment(
            self._sql.change(
                name, mutate, "traffic",
                lambda row: {"from": row.policy["weights"], "to": dict(weights), "reason": reason},
                expected_revision=expected_revision,
                guard=None if by_rollout else "changing its traffic",
            )
        )  # fmt: skip

    def set_policy(
        self, name: str, policy: TrafficPolicy, *, kind: str = "policy", reason: str = "",
        by_rollout: bool = False,
    ) -> Deployment:  # fmt: skip
        """A whole new policy. Sticky keys, routes, shadow and faults may change during a
        rollout (rehearsing a rollback with a fault, say); weights only by the rollout."""

        def guard(row: DeploymentRow) -> str | None:
            if by_rollout or dict(row.policy.get("weights", {})) == dict(policy.weights):
                return None
            return "changing its traffic"

        def mutate(row: DeploymentRow) -> tuple[dict[str, str], dict[str, Any]]:
            missing = sorted(set(policy.weights) ^ set(row.variants))
            if missing:
                raise InvalidInput(
                    f"the policy's variants do not match deployment {name!r}'s: {missing}"
                )
            return row.variants, policy.to_dict()

        return _deployment(
            self._sql.change(
                name,
                mutate,
                kind,
                lambda row: {"policy": policy.to_dict(), "reason": reason},
                guard=guard,
            )
        )

    def add_variant(self, name: str, variant: str, uri: str) -> Deployment:
        """A new variant at weight 0 (it gets traffic from ``set_traffic`` or a rollout)."""
        self._check_variants({variant: uri})

        def mutate(row: DeploymentRow) -> tuple[dict[str, str], dict[str, Any]]:
            if variant in row.variants:
                raise Conflict(
                    f"deployment {name!r} already has a variant {variant!r} "
                    f"({row.variants[variant]})",
                    hint="remove it first, or pick another name",
                )
            data = dict(row.policy)
            data["weights"] = {**row.policy["weights"], variant: 0}
            return {**row.variants, variant: uri}, TrafficPolicy.from_dict(data).to_dict()

        return _deployment(
            self._sql.change(name, mutate, "variant-added", lambda _: {variant: uri})
        )

    def remove_variant(self, name: str, variant: str, *, by_rollout: bool = False) -> Deployment:
        """Retire a variant that receives no traffic (never the primary)."""

        def mutate(row: DeploymentRow) -> tuple[dict[str, str], dict[str, Any]]:
            if variant not in row.variants:
                raise InvalidInput(f"deployment {name!r} has no variant {variant!r}")
            policy = TrafficPolicy.from_dict(row.policy)
            if variant == policy.primary:
                raise Conflict(
                    f"{variant!r} is the primary variant of {name!r}: it cannot be removed",
                    hint="promote another variant first, or delete the deployment",
                )
            if policy.weights[variant]:
                raise Conflict(
                    f"variant {variant!r} still receives {policy.weights[variant]}% of traffic",
                    hint=f"move its traffic first: `loopline deploy set-traffic {name} ...`",
                )
            data = policy.to_dict()
            data["weights"] = {k: w for k, w in policy.weights.items() if k != variant}
            if data["shadow"] and data["shadow"]["variant"] == variant:
                data["shadow"] = None
            data["faults"] = {k: f for k, f in data["faults"].items() if k != variant}
            data["routes"] = [r for r in data["routes"] if r["variant"] != variant]
            variants = {k: v for k, v in row.variants.items() if k != variant}
            return variants, TrafficPolicy.from_dict(data).to_dict()

        return _deployment(
            self._sql.change(
                name, mutate, "variant-removed", lambda _: {"variant": variant},
                guard=None if by_rollout else f"removing variant {variant!r}",
            )
        )  # fmt: skip

    def replace_variant(
        self, name: str, variant: str, uri: str, *, by_rollout: bool = False
    ) -> Deployment:
        """Point a variant at another model (a promotion outside the registry)."""
        self._check_variants({variant: uri})

        def mutate(row: DeploymentRow) -> tuple[dict[str, str], dict[str, Any]]:
            if variant not in row.variants:
                raise InvalidInput(f"deployment {name!r} has no variant {variant!r}")
            return {**row.variants, variant: uri}, row.policy

        return _deployment(
            self._sql.change(
                name, mutate, "variant-replaced",
                lambda row: {"variant": variant, "from": row.variants.get(variant), "to": uri},
                guard=None if by_rollout else f"replacing variant {variant!r}",
            )
        )  # fmt: skip

    def delete(self, name: str) -> None:
        """Refused while a rollout of the deployment is active (abort it first)."""
        self._sql.delete(name)

    def record(self, name: str, kind: str, detail: dict[str, Any]) -> None:
        self._sql.record(name, kind, detail)

    def history(self, name: str, limit: int | None = None) -> list[DeploymentEvent]:
        return self._sql.events(name, limit)
