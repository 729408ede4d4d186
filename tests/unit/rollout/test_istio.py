"""Istio objects, validated strictly against Istio's own schema models (no cluster runs here)."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest
from cloudcoil.models.istio.networking.v1 import DestinationRule, VirtualService

from loopline.rollout.istio import VARIANT_LABEL, destination_rule, virtual_service, weight_patch
from loopline.rollout.policy import Fault, HeaderRoute, Shadow, TrafficPolicy

HOST = "churn.ml.svc.cluster.local"


def _policy(weight: int = 10) -> TrafficPolicy:
    return TrafficPolicy(
        weights={"champion": 100 - weight, "candidate": weight},
        primary="champion",
        routes=(HeaderRoute("x-team", "qa", "candidate"),),
        shadow=Shadow("candidate", 20.0),
        faults={"candidate": Fault(abort_status=503, abort_percent=5, delay_seconds=0.2,
                                   delay_percent=10)},
    )  # fmt: skip


def _strict(model: Any, document: dict[str, Any]) -> None:
    """Parse with Istio's models and compare the dump: an unknown or misspelt field is lost."""
    parsed = model.model_validate(document)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert _strip(dumped) == _strip(document)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_virtual_service_is_valid_istio_with_weights_pins_mirror_and_faults() -> None:
    document = virtual_service("churn", _policy(), host=HOST, namespace="ml")
    _strict(VirtualService, document)
    http = document["spec"]["http"]
    weighted = http[-1]
    assert [(r["destination"]["subset"], r["weight"]) for r in weighted["route"]] == [
        ("champion", 90),
        ("candidate", 10),
    ]
    assert weighted["mirror"]["subset"] == "candidate"
    assert weighted["mirrorPercentage"] == {"value": 20.0}
    pins = {r["name"]: r for r in http[:-1]}
    assert pins["pin-candidate"]["fault"]["abort"]["httpStatus"] == 503
    assert pins["pin-candidate"]["fault"]["delay"]["fixedDelay"] == "200ms"
    assert pins["header-0"]["match"] == [{"headers": {"x-team": {"exact": "qa"}}}]


def test_destination_rule_has_a_subset_per_variant() -> None:
    document = destination_rule("churn", _policy(), host=HOST)
    _strict(DestinationRule, document)
    assert {s["name"]: s["labels"][VARIANT_LABEL] for s in document["spec"]["subsets"]} == {
        "candidate": "candidate",
        "champion": "champion",
    }


def test_a_misspelt_field_would_be_caught_by_the_strict_check() -> None:
    document = virtual_service("churn", _policy(), host=HOST)
    document["spec"]["http"][-1]["mirrorPercentge"] = {"value": 5}
    with pytest.raises(AssertionError):
        _strict(VirtualService, document)


def test_weight_patch_moves_the_weighted_route_only() -> None:
    current = virtual_service("churn", _policy(10), host=HOST)
    patched = jsonpatch.apply_patch(current, weight_patch(_policy(50)))
    assert patched == virtual_service("churn", _policy(50), host=HOST)


def test_weight_patch_refuses_a_virtual_service_with_another_layout() -> None:
    other = TrafficPolicy(weights={"champion": 50, "other": 50}, primary="champion")
    current = virtual_service(
        "churn", TrafficPolicy(weights={"champion": 90, "other": 10}, primary="champion"),
        host=HOST,
    )  # fmt: skip
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(current, weight_patch(_policy(50)))
    assert (
        jsonpatch.apply_patch(current, weight_patch(other))["spec"]["http"][-1]["route"][1][
            "weight"
        ]
        == 50
    )
