"""A traffic policy rendered for Istio: a VirtualService and a DestinationRule.

Each variant is a DestinationRule subset selected by the pod label ``loopline.io/variant``. The
VirtualService carries, in Istio's order of evaluation: pinned routes (the pin header, then header
routes, each with that variant's fault), then the weighted default route with the shadow as
``mirror`` + ``mirrorPercentage``. Istio has no hashing of a key into weighted subsets, so sticky
assignment stays with Loopline's own router; on a mesh the weights are per request.

The controller moves weights with :func:`weight_patch`, a JSON Patch whose ``test`` operations
make the API server refuse it if someone changed the route layout meanwhile.
"""

from __future__ import annotations

from typing import Any

from loopline.rollout.policy import PIN_HEADER, Fault, TrafficPolicy

__all__ = ["VARIANT_LABEL", "destination_rule", "virtual_service", "weight_patch"]

VARIANT_LABEL = "loopline.io/variant"
_API_VERSION = "networking.istio.io/v1"


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "loopline"},
    }


def _destination(host: str, variant: str) -> dict[str, Any]:
    return {"host": host, "subset": variant}


def _fault(fault: Fault | None) -> dict[str, Any] | None:
    if fault is None:
        return None
    rendered: dict[str, Any] = {}
    if fault.abort_status is not None and fault.abort_percent:
        rendered["abort"] = {
            "httpStatus": fault.abort_status,
            "percentage": {"value": float(fault.abort_percent)},
        }
    if fault.delay_seconds and fault.delay_percent:
        rendered["delay"] = {
            "fixedDelay": f"{round(fault.delay_seconds * 1000)}ms",
            "percentage": {"value": float(fault.delay_percent)},
        }
    return rendered or None


def _pinned_route(
    name: str, header: str, value: str, variant: str, host: str, policy: TrafficPolicy
) -> dict[str, Any]:
    route: dict[str, Any] = {
        "name": name,
        "match": [{"headers": {header: {"exact": value}}}],
        "route": [{"destination": _destination(host, variant), "weight": 100}],
    }
    fault = _fault(policy.faults.get(variant))
    if fault:
        route["fault"] = fault
    return route


def virtual_service(
    deployment: str, policy: TrafficPolicy, *, host: str, namespace: str = "default"
) -> dict[str, Any]:
    """The VirtualService for ``host`` (the Kubernetes Service of the deployment)."""
    http: list[dict[str, Any]] = [
        _pinned_route(f"pin-{variant}", PIN_HEADER, variant, variant, host, policy)
        for variant in sorted(policy.weights)
    ]
    http += [
        _pinned_route(f"header-{i}", r.name, r.value, r.variant, host, policy)
        for i, r in enumerate(policy.routes)
    ]
    default: dict[str, Any] = {
        "name": "weighted",
        "route": [
            {"destination": _destination(host, variant), "weight": policy.weights[variant]}
            for variant in _route_order(policy)
        ],
    }
    if policy.shadow is not None and policy.shadow.percent > 0:
        default["mirror"] = _destination(host, policy.shadow.variant)
        default["mirrorPercentage"] = {"value": float(policy.shadow.percent)}
    http.append(default)
    return {
        "apiVersion": _API_VERSION,
        "kind": "VirtualService",
        "metadata": _metadata(deployment, namespace),
        "spec": {"hosts": [host], "http": http},
    }


def destination_rule(
    deployment: str, policy: TrafficPolicy, *, host: str, namespace: str = "default"
) -> dict[str, Any]:
    """One subset per variant, selected by the ``loopline.io/variant`` pod label."""
    return {
        "apiVersion": _API_VERSION,
        "kind": "DestinationRule",
        "metadata": _metadata(deployment, namespace),
        "spec": {
            "host": host,
            "subsets": [
                {"name": variant, "labels": {VARIANT_LABEL: variant}}
                for variant in sorted(policy.weights)
            ],
        },
    }


def _route_order(policy: TrafficPolicy) -> list[str]:
    return [policy.primary, *sorted(v for v in policy.weights if v != policy.primary)]


def weight_patch(policy: TrafficPolicy) -> list[dict[str, Any]]:
    """A JSON Patch moving the weighted route of :func:`virtual_service` to the policy's weights.

    Each destination is tested first, so the patch fails rather than re-weighting the wrong subset
    if the VirtualService was rendered from another set of variants.
    """
    index = len(policy.weights) + len(policy.routes)  # the weighted route comes last
    patch: list[dict[str, Any]] = [
        {"op": "test", "path": f"/spec/http/{index}/name", "value": "weighted"}
    ]
    for position, variant in enumerate(_route_order(policy)):
        base = f"/spec/http/{index}/route/{position}"
        patch.append({"op": "test", "path": f"{base}/destination/subset", "value": variant})
        patch.append({"op": "replace", "path": f"{base}/weight", "value": policy.weights[variant]})
    return patch
