"""Driving Istio: move a deployment's VirtualService weights with a guarded JSON Patch through
the ``kubernetes`` client's ``CustomObjectsApi`` (the rollout controller's hook on a cluster)."""

from __future__ import annotations

from typing import Any

from loopline.core.errors import Conflict, NotFound, RemoteError
from loopline.rollout.deployments import Deployment
from loopline.rollout.istio import weight_patch

__all__ = ["IstioWeights"]


class IstioWeights:
    """Patches ``VirtualService/<deployment>`` in ``namespace`` to the deployment's weights."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        from kubernetes import client as k

        self.api = k.CustomObjectsApi(api_client)
        self.namespace = namespace

    def __call__(self, deployment: Deployment) -> None:
        from kubernetes.client.exceptions import ApiException

        # JSON Patch, not a merge: the test operations make the server refuse a stale layout.
        self.api.api_client.set_default_header("Content-Type", "application/json-patch+json")
        try:
            self.api.patch_namespaced_custom_object(
                "networking.istio.io", "v1", self.namespace, "virtualservices", deployment.name,
                weight_patch(deployment.policy),
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(
                    f"VirtualService {self.namespace}/{deployment.name} does not exist",
                    hint="render and apply it first: `loopline k8s render ... --istio`",
                ) from None
            if exc.status == 422:
                raise Conflict(
                    f"VirtualService {self.namespace}/{deployment.name} no longer has the "
                    "route layout Loopline rendered; its weights were not changed",
                    hint="render and apply it again from the deployment",
                ) from None
            raise RemoteError(
                f"patching VirtualService {deployment.name} failed ({exc.status}): {exc.reason}"
            ) from None
