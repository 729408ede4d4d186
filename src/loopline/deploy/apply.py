"""``k8s apply``: server-side apply of rendered objects through the ``kubernetes`` client.

Objects go in dependency order (RBAC and config before workloads, workloads before routing), each
as a server-side apply PATCH with field manager ``loopline``; a conflict (HTTP 409) is retried a
few times, a missing CRD names what to install, and Deployments are then awaited until rolled out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound, RemoteError
from loopline.core.yaml_loader import load_yaml_documents, read_yaml_text

__all__ = ["FIELD_MANAGER", "AppliedObject", "apply_objects", "load_objects", "resource_path"]

FIELD_MANAGER = "loopline"
# Kinds in the order they are applied; unknown kinds go last, in file order.
ORDER = [
    "Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "Deployment",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "DestinationRule", "VirtualService",
    "ServiceMonitor", "PrometheusRule",
]  # fmt: skip
# kind -> (plural, namespaced, what provides it when it is a CRD)
_RESOURCES: dict[str, tuple[str, bool, str | None]] = {
    "Namespace": ("namespaces", False, None),
    "ServiceAccount": ("serviceaccounts", True, None),
    "Role": ("roles", True, None),
    "RoleBinding": ("rolebindings", True, None),
    "ConfigMap": ("configmaps", True, None),
    "Service": ("services", True, None),
    "Deployment": ("deployments", True, None),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", True, None),
    "PodDisruptionBudget": ("poddisruptionbudgets", True, None),
    "DestinationRule": ("destinationrules", True, "Istio (istioctl install)"),
    "VirtualService": ("virtualservices", True, "Istio (istioctl install)"),
    "ServiceMonitor": ("servicemonitors", True, "prometheus-operator (kube-prometheus-stack)"),
    "PrometheusRule": ("prometheusrules", True, "prometheus-operator (kube-prometheus-stack)"),
}


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    name: str
    namespace: str | None
    action: str  # applied | dry-run


def _manifest_files(folder: Path) -> list[Path]:
    """The files the folder's ``kustomization.yaml`` lists (what ``kubectl apply -k`` would
    apply); without one, every YAML file but a kustomization."""
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        kustomization = folder / name
        if kustomization.is_file():
            break
    else:
        return [p for p in sorted(folder.glob("*.y*ml")) if not p.name.startswith("kustomization")]
    data = load_yaml_documents(kustomization.read_text(), str(kustomization))
    spec = data[0] if data else None
    resources = spec.get("resources") if isinstance(spec, dict) else None
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise InvalidInput(
            f"{kustomization} lists no resources",
            hint="list the manifest files under `resources:`, or render the folder again",
        )
    files = []
    for resource in resources:
        path = folder / resource
        if not path.is_file():
            raise InvalidInput(
                f"{kustomization} lists {resource!r}, which is not a file in {folder}",
                hint="`loopline k8s apply` applies plain manifest files; for remote bases or "
                "overlays use `kubectl apply -k`",
            )
        files.append(path)
    return files


def load_objects(folder: Path) -> list[dict[str, Any]]:
    """Every object of the files the folder's kustomization lists (else of every YAML file but
    a kustomization), in file order."""
    if not folder.is_dir():
        raise NotFound(
            f"{folder} is not a folder of manifests", hint="render one with `loopline k8s render`"
        )
    objects: list[dict[str, Any]] = []
    for path in _manifest_files(folder):
        documents = load_yaml_documents(read_yaml_text(path), str(path))
        for document in documents:
            if document is None:
                continue
            if (
                not isinstance(document, dict)
                or "kind" not in document
                or "apiVersion" not in document
            ):
                raise InvalidInput(f"{path} holds a document that is not a Kubernetes object")
            objects.append(document)
    if not objects:
        raise NotFound(f"{folder} holds no manifests")
    return objects


def _sort_key(indexed: tuple[int, dict[str, Any]]) -> tuple[int, int]:
    index, obj = indexed
    kind = obj["kind"]
    return (ORDER.index(kind) if kind in ORDER else len(ORDER), index)


def resource_path(obj: dict[str, Any], namespace: str | None) -> str:
    """The REST path of one object, e.g. ``/apis/apps/v1/namespaces/ns/deployments/name``."""
    kind = obj["kind"]
    if kind not in _RESOURCES:
        raise InvalidInput(f"loopline cannot apply objects of kind {kind}")
    plural, namespaced, _ = _RESOURCES[kind]
    api_version = obj["apiVersion"]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if namespaced and namespace else ""
    return f"{base}{scope}/{plural}/{obj['metadata']['name']}"


def apply_objects(
    objects: Iterable[dict[str, Any]],
    api_client: Any,
    *,
    namespace: str | None = None,
    dry_run: bool = False,
    retries: int = 3,
    on_applied: Callable[[AppliedObject], None] | None = None,
) -> list[AppliedObject]:
    """Server-side apply each object (``dry_run``: the server validates, nothing persists)."""
    from kubernetes.client.exceptions import ApiException

    applied = []
    for _, obj in sorted(enumerate(objects), key=_sort_key):
        ns = namespace or obj.get("metadata", {}).get("namespace")
        if namespace:
            obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
            if obj["kind"] == "RoleBinding":  # its ServiceAccount moves along with it
                obj["subjects"] = [
                    {**subject, "namespace": namespace} if "namespace" in subject else subject
                    for subject in obj.get("subjects", [])
                ]
        path = resource_path(obj, ns)
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        for attempt in range(retries + 1):
            try:
                api_client.call_api(
                    path, "PATCH", query_params=query, body=obj,
                    header_params={"Content-Type": "application/apply-patch+yaml",
                                   "Accept": "application/json"},
                    auth_settings=["BearerToken"], _preload_content=False,
                )  # fmt: skip
                break
            except ApiException as exc:
                if exc.status == 409 and attempt < retries:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise _explain(exc, obj) from None
            except OSError as exc:
                raise RemoteError(
                    f"cannot reach the Kubernetes API server: {exc}",
                    hint="check the kube context (`kubectl config current-context`)",
                ) from None
        result = AppliedObject(obj["kind"], obj["metadata"]["name"], ns,
                               "dry-run" if dry_run else "applied")  # fmt: skip
        applied.append(result)
        if on_applied is not None:
            on_applied(result)
    return applied


def _explain(exc: Any, obj: dict[str, Any]) -> Exception:
    kind, name = obj["kind"], obj["metadata"]["name"]
    provider = _RESOURCES.get(kind, ("", True, None))[2]
    if exc.status == 404 and provider:
        return NotFound(
            f"the cluster does not know {kind} ({obj['apiVersion']}): its CRD is not installed",
            hint=f"install {provider}, or render without the option that adds {kind}",
        )
    if exc.status in (401, 403):
        return RemoteError(
            f"the cluster refused to apply {kind} {name}: {exc.reason}",
            hint="your kube context lacks the rights to apply it; ask for them or switch context",
        )
    body = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body or exc.reason)
    return RemoteError(f"applying {kind} {name} failed ({exc.status}): {body[:500]}")


def wait_for_deployments(
    objects: Iterable[dict[str, Any]],
    api_client: Any,
    *,
    namespace: str | None = None,
    timeout: float = 600,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Wait until every applied Deployment has all replicas updated and available."""
    from kubernetes import client as k

    apps = k.AppsV1Api(api_client)
    pending = [
        (namespace or o["metadata"].get("namespace") or "default", o["metadata"]["name"])
        for o in objects
        if o["kind"] == "Deployment"
    ]
    deadline = time.monotonic() + timeout
    while pending:
        still = []
        for ns, name in pending:
            status = apps.read_namespaced_deployment_status(name, ns)
            wanted = status.spec.replicas or 0
            ready = status.status.updated_replicas or 0
            available = status.status.available_replicas or 0
            if on_progress is not None:
                on_progress(name, min(ready, available), wanted)
            if ready < wanted or available < wanted:
                still.append((ns, name))
        pending = still
        if pending:
            if time.monotonic() > deadline:
                names = ", ".join(n for _, n in pending)
                raise RemoteError(
                    f"deployments not rolled out after {timeout:g}s: {names}",
                    hint="look at `kubectl describe deployment` and the pods' events",
                )
            time.sleep(2)
