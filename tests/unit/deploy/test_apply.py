"""`k8s apply` against a small fake Kubernetes API server on 127.0.0.1 that records requests.

No cluster runs here, so the server is a stand-in: it answers server-side apply PATCHes and
Deployment status reads the way the API server does, and can refuse (409 once, 404 for a CRD).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client as k

from loopline.core.errors import NotFound
from loopline.deploy.apply import apply_objects, load_objects, wait_for_deployments
from loopline.deploy.files import write_rendered
from loopline.deploy.manifests import RenderOptions, render_objects
from loopline.rollout.deployments import Deployment
from loopline.rollout.policy import TrafficPolicy


class FakeApiServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.conflicts_left: dict[str, int] = {}
        self.missing_prefixes: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PATCH(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({
                    "path": url.path, "query": parse_qs(url.query),
                    "content_type": self.headers.get("content-type"), "body": body,
                })  # fmt: skip
                if any(url.path.startswith(p) for p in fake.missing_prefixes):
                    self._answer(404, {"kind": "Status", "reason": "NotFound", "code": 404})
                    return
                if fake.conflicts_left.get(url.path, 0):
                    fake.conflicts_left[url.path] -= 1
                    self._answer(409, {"kind": "Status", "reason": "Conflict", "code": 409})
                    return
                self._answer(200, body)

            def do_GET(self) -> None:
                name = self.path.split("/")[-2]
                self._answer(200, {
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name}, "spec": {"replicas": 2, "selector": {},
                    "template": {}},
                    "status": {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
                })  # fmt: skip

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        configuration = k.Configuration(host=f"http://127.0.0.1:{self.server.server_address[1]}")
        self.client = k.ApiClient(configuration)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.server.shutdown()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    deployment = Deployment(
        "churn", {"champion": "models:/churn@champion"},
        TrafficPolicy(weights={"champion": 100}, primary="champion"), 1, 0.0, 0.0,
    )  # fmt: skip
    write_rendered(
        render_objects(deployment, RenderOptions(istio=True)), tmp_path,
        namespace="default", image="loopline:1",
    )  # fmt: skip
    return tmp_path


def test_server_side_apply_in_dependency_order(api: FakeApiServer, manifests: Path) -> None:
    objects = load_objects(manifests)
    applied = apply_objects(objects, api.client, namespace="ml")
    kinds = [a.kind for a in applied]
    assert kinds.index("ServiceAccount") < kinds.index("Role") < kinds.index("Deployment")
    assert kinds.index("Deployment") < kinds.index("HorizontalPodAutoscaler")
    assert kinds[-2:] == ["DestinationRule", "VirtualService"]
    first = api.requests[0]
    assert first["content_type"] == "application/apply-patch+yaml"
    assert first["query"]["fieldManager"] == ["loopline"]
    assert first["query"]["force"] == ["true"]
    paths = [r["path"] for r in api.requests]
    assert "/apis/apps/v1/namespaces/ml/deployments/churn-champion" in paths
    assert "/apis/networking.istio.io/v1/namespaces/ml/virtualservices/churn" in paths
    assert all(r["body"]["metadata"]["namespace"] == "ml" for r in api.requests)
    bindings = [r["body"] for r in api.requests if r["body"]["kind"] == "RoleBinding"]
    assert bindings and all(
        subject["namespace"] == "ml" for b in bindings for subject in b["subjects"]
    )
    wait_for_deployments(objects, api.client, namespace="ml")


def test_a_conflict_is_retried(api: FakeApiServer, manifests: Path) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments/churn-champion"
    api.conflicts_left[path] = 2
    apply_objects(load_objects(manifests), api.client)
    assert [r["path"] for r in api.requests].count(path) == 3


def test_a_missing_crd_names_what_to_install(api: FakeApiServer, manifests: Path) -> None:
    api.missing_prefixes.append("/apis/networking.istio.io/")
    with pytest.raises(NotFound, match="CRD is not installed") as caught:
        apply_objects(load_objects(manifests), api.client)
    assert "Istio" in (caught.value.hint or "")


def test_dry_run_asks_the_server_to_persist_nothing(api: FakeApiServer, manifests: Path) -> None:
    applied = apply_objects(load_objects(manifests), api.client, dry_run=True)
    assert {a.action for a in applied} == {"dry-run"}
    assert all(r["query"]["dryRun"] == ["All"] for r in api.requests)


def test_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_objects(tmp_path / "missing")
    (tmp_path / "bad.yaml").write_text("just: a mapping\n")
    from loopline.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a Kubernetes object"):
        load_objects(tmp_path)


def test_apply_reads_exactly_what_the_kustomization_lists(manifests: Path) -> None:
    stray = manifests / "serving-old.yaml"
    stray.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn-old\n")
    names = {o["metadata"]["name"] for o in load_objects(manifests)}
    assert "churn-old" not in names and names
    (manifests / "kustomization.yaml").unlink()  # without one: every YAML file
    assert "churn-old" in {o["metadata"]["name"] for o in load_objects(manifests)}
