"""The controller's Istio hook against a fake Kubernetes API server on 127.0.0.1 (no cluster
runs here): the request must be a JSON Patch of the VirtualService with its guard tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonpatch
import pytest
from kubernetes import client as k

from loopline.core.errors import Conflict, NotFound
from loopline.rollout.deployments import Deployment
from loopline.rollout.istio import virtual_service
from loopline.rollout.istio_backend import IstioWeights
from loopline.rollout.policy import TrafficPolicy

HOST = "churn.ml.svc.cluster.local"


def _deployment(weight: int) -> Deployment:
    policy = TrafficPolicy(
        weights={"champion": 100 - weight, "candidate": weight}, primary="champion"
    )
    return Deployment("churn", {"champion": "a", "candidate": "b"}, policy, 1, 0.0, 0.0)


class FakeIstio:
    """Holds one VirtualService and applies JSON Patches to it as the API server does."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] | None = virtual_service(
            "churn", _deployment(10).policy, host=HOST, namespace="ml"
        )
        self.requests: list[tuple[str, str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append((self.path, self.headers["content-type"], body))
                status, answer = 200, {}
                if fake.stored is None:
                    status = 404
                else:
                    try:
                        fake.stored = jsonpatch.apply_patch(fake.stored, body)
                        answer = fake.stored
                    except jsonpatch.JsonPatchTestFailed:
                        status = 422
                data = json.dumps(answer or {"kind": "Status", "code": status}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = k.ApiClient(k.Configuration(host=host))


@pytest.fixture
def istio() -> Iterator[FakeIstio]:
    fake = FakeIstio()
    yield fake
    fake.server.shutdown()


def test_weights_move_by_json_patch(istio: FakeIstio) -> None:
    IstioWeights(istio.client, "ml")(_deployment(50))
    path, content_type, body = istio.requests[0]
    assert path == "/apis/networking.istio.io/v1/namespaces/ml/virtualservices/churn"
    assert content_type == "application/json-patch+json"
    assert body[0]["op"] == "test"
    assert istio.stored is not None
    weighted = istio.stored["spec"]["http"][-1]["route"]
    assert [r["weight"] for r in weighted] == [50, 50]


def test_a_changed_layout_is_refused_not_reweighted(istio: FakeIstio) -> None:
    assert istio.stored is not None
    istio.stored["spec"]["http"][-1]["route"][1]["destination"]["subset"] = "someone-else"
    with pytest.raises(Conflict, match="no longer has the route layout"):
        IstioWeights(istio.client, "ml")(_deployment(50))


def test_a_missing_virtual_service_says_how_to_create_it(istio: FakeIstio) -> None:
    istio.stored = None
    with pytest.raises(NotFound, match="does not exist"):
        IstioWeights(istio.client, "ml")(_deployment(50))
