"""Submitting a compiled package to a Kubeflow Pipelines server.

No Kubeflow cluster can run on this machine, so the successful path replaces ``kfp.Client`` with
a fake and checks the exact call Loopline makes; the failure paths use the real client against
local servers that are not Kubeflow.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from loopline.core.errors import InvalidInput, NotFound, RemoteError
from loopline.pipeline._kfp import KfpStage, SubmittedRun, compile_pipeline, submit_pipeline

kfp = pytest.importorskip("kfp")


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers the health check like Kubeflow Pipelines does, when ``healthy``."""

    healthy = True

    def do_GET(self) -> None:
        if self.healthy and self.path == "/apis/v2beta1/healthz":
            body = b'{"multi_user": false}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(handler: type[_Handler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def kfp_host() -> Iterator[str]:
    yield from _serve(_Handler)


@pytest.fixture
def other_host() -> Iterator[str]:
    yield from _serve(type("NotKubeflow", (_Handler,), {"healthy": False}))


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return compile_pipeline(
        [KfpStage("train", ("python train.py",), outs=("model.pkl",))],
        name="churn",
        image="registry.example/churn:1",
        remote_url=None,
        output=tmp_path / "kfp-pipeline.yaml",
    )


class FakeClient:
    """Records the constructor and the run request, answers like kfp.Client."""

    calls: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.calls.append(("init", kwargs))

    def create_run_from_pipeline_package(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("create_run", (args, kwargs)))
        return type("RunPipelineResult", (), {"run_id": "4f2c-run"})()


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.calls = []
    monkeypatch.setattr(kfp, "Client", FakeClient)
    return FakeClient


def test_submit_creates_a_run_from_the_package(
    package: Path, kfp_host: str, fake_client: type[FakeClient]
) -> None:
    run = submit_pipeline(
        package,
        host=kfp_host + "/",
        experiment="churn",
        run_name="nightly",
        arguments={"remote_url": "s3://bucket/churn"},
    )
    assert fake_client.calls == [
        ("init", {"host": kfp_host + "/"}),
        (
            "create_run",
            (
                (str(package),),
                {
                    "arguments": {"remote_url": "s3://bucket/churn"},
                    "run_name": "nightly",
                    "experiment_name": "churn",
                },
            ),
        ),
    ]
    assert run == SubmittedRun(
        run_id="4f2c-run",
        url=f"{kfp_host}/#/runs/details/4f2c-run",
        host=kfp_host + "/",
        experiment="churn",
        run_name="nightly",
    )


def test_defaults_leave_experiment_and_name_to_the_server(
    package: Path, kfp_host: str, fake_client: type[FakeClient]
) -> None:
    submit_pipeline(package, host=kfp_host)
    _, (_, options) = fake_client.calls[1]
    assert options == {"arguments": {}, "run_name": None, "experiment_name": None}


def test_closed_port_fails_fast_with_a_hint(package: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        submit_pipeline(package, host=host)
    assert time.monotonic() - started < 5
    assert f"cannot reach the Kubeflow Pipelines server at {host}" in caught.value.message
    assert caught.value.hint and "port-forward" in caught.value.hint


def test_a_server_that_is_not_kubeflow_is_named_as_such(package: Path, other_host: str) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteError, match="does not look like a Kubeflow Pipelines API"):
        submit_pipeline(package, host=other_host)
    assert time.monotonic() - started < 5


def test_server_errors_during_the_run_request_become_remote_errors(
    package: Path, kfp_host: str
) -> None:
    """The real client: health answers, but the run API does not exist on this server."""
    with pytest.raises(RemoteError) as caught:
        submit_pipeline(package, host=kfp_host, experiment="churn")
    assert caught.value.message == (
        f"the Kubeflow Pipelines server at {kfp_host} refused the run: HTTP 404 Not Found"
    )


def test_missing_package_and_malformed_host(tmp_path: Path, package: Path) -> None:
    with pytest.raises(NotFound, match="loopline kfp compile"):
        submit_pipeline(tmp_path / "absent.yaml", host="http://127.0.0.1:1")
    with pytest.raises(InvalidInput, match="http"):
        submit_pipeline(package, host="127.0.0.1:8080")
