"""Serving a deployment: its variants side by side, each request routed by the traffic policy.

A :class:`DeploymentFollower` polls the deployment's revision in the metadata store (one integer)
and, when it changes, loads any new variant first and only then swaps in the new policy in one
assignment — so a policy change reaches every worker within about a second and no request is
routed to a model that is not loaded. Choosing a variant on the hot path is the policy's own few
lookups and one hash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from loopline.core.errors import LooplineError
from loopline.rollout.policy import TrafficPolicy
from loopline.serving.settings import ModelSpec

__all__ = ["DeploymentFollower", "load_deployment", "variant_specs"]

log = logging.getLogger(__name__)


def variant_key(deployment: str, variant: str) -> str:
    """The repository name of one variant (never routed by URL: it holds a slash)."""
    return f"{deployment}/{variant}"


def load_deployment(name: str, tracking_uri: str | None) -> Any:
    from loopline.core.errors import InvalidInput
    from loopline.rollout.deployments import Deployments
    from loopline.store import open_store
    from loopline.tracking._uri import resolve_tracking_uri

    target = resolve_tracking_uri(tracking_uri)
    if target.server_url:
        raise InvalidInput(
            "serving a deployment needs the metadata store itself, not a tracking server",
            hint="point --tracking-uri at the database URL the server uses",
        )
    return Deployments(open_store(target.store_url))


def variant_specs(deployment: Any) -> tuple[ModelSpec, ...]:
    return tuple(
        ModelSpec(
            variant_key(deployment.name, variant), uri, variant=variant, public_name=deployment.name
        )
        for variant, uri in deployment.variants.items()
    )


class DeploymentFollower:
    """The current policy of one deployment, kept fresh by a background poller."""

    def __init__(
        self,
        name: str,
        deployments: Any,
        *,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.name = name
        self._deployments = deployments
        self.poll_interval_s = poll_interval_s
        current = deployments.get(name)
        self.policy: TrafficPolicy = current.policy
        self.variants: dict[str, str] = dict(current.variants)
        self.revision: int = current.revision
        self.deleted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors: dict[int, set[tuple[str, str]]] = {}  # revision -> (variant, reason)

    def key(self, variant: str) -> str:
        return variant_key(self.name, variant)

    def start(self, add: Callable[[ModelSpec], None], remove: Callable[[str], None]) -> None:
        """Poll; a new variant is loaded with ``add`` before traffic can reach it."""
        self._add, self._remove = add, remove
        self._thread = threading.Thread(
            target=self._poll, name=f"deployment-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.refresh()
            except Exception:  # the poller must survive anything; the old policy keeps serving
                log.exception("following deployment %s failed", self.name)

    def refresh(self) -> None:
        revision = self._deployments.revision(self.name)
        if revision is None:
            if not self.deleted:
                log.error("deployment %s was deleted; serving its last policy", self.name)
            self.deleted = True
            return
        if revision == self.revision:
            return
        current = self._deployments.get(self.name)
        specs = {spec.variant: spec for spec in variant_specs(current)}
        for variant, uri in current.variants.items():
            if self.variants.get(variant) == uri:
                continue
            try:
                self._add(specs[variant])  # loaded before any request can be routed to it
            except LooplineError as exc:
                reported = self._errors.setdefault(current.revision, set())
                if (variant, exc.message) not in reported:  # once per revision and reason
                    log.error("deployment %s: variant %s: %s", self.name, variant, exc.message)
                    reported.add((variant, exc.message))
                return  # keep the old policy until every variant can answer
        gone = set(self.variants) - set(current.variants)
        self.variants = dict(current.variants)
        self.policy = current.policy  # one assignment: requests see the old or the new policy
        self.revision = current.revision
        self.deleted = False
        for variant in gone:
            self._remove(self.key(variant))
        log.info("deployment %s: revision %s, weights %s", self.name, self.revision,
                 dict(self.policy.weights))  # fmt: skip
