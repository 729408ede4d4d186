"""The serving half of the demo: a client that talks to `loopline serve` the way users do, over
plain HTTP in the three protocols it speaks, and prints each exchange like curl would."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CUSTOMERS = [
    {"tenure_months": 2, "monthly_charges": 99.0, "support_calls": 8, "contract": "monthly"},
    {"tenure_months": 70, "monthly_charges": 25.0, "support_calls": 0, "contract": "two-year"},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ModelServer:
    """`loopline serve ...` as a background process, stopped with SIGTERM (a graceful drain)."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(Path(sys.executable).with_name("loopline")), "serve", *args]
        command += ["--port", str(self.port)]
        print(
            f"\n\033[1m$ {' '.join(command[1:] if False else ['loopline', *command[1:]])} &\033[0m"
        )
        self.log = (cwd / "serve.log").open("w")
        self.process = subprocess.Popen(command, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"demo failed: the model server exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as reply:
                    if reply.status == 200:
                        print(f"server ready at {self.url}")
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        sys.exit("demo failed: the model server did not become ready")

    def call(
        self, method: str, path: str, body: Any = None, show: bool = True
    ) -> tuple[Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        if show:
            shown = "" if body is None else f" -d '{json.dumps(body)}'"
            print(f"\n\033[1m$ curl -X {method} {self.url}{path}{shown}\033[0m")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                text = reply.read().decode()
                headers = dict(reply.headers)
        except urllib.error.HTTPError as error:
            sys.exit(f"demo failed: {method} {path} answered {error.code}: {error.read().decode()}")
        if show:
            print(text if len(text) < 600 else text[:600] + " ...")
        return (json.loads(text) if text.startswith(("{", "[")) else text), headers

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def v2_request(customers: list[dict[str, Any]]) -> dict[str, Any]:
    """One V2 tensor per column: numbers as FP64/INT64, the contract type as BYTES."""
    datatypes = {"tenure_months": "INT64", "monthly_charges": "FP64", "support_calls": "INT64"}
    return {
        "inputs": [
            {
                "name": column,
                "shape": [len(customers)],
                "datatype": datatypes.get(column, "BYTES"),
                "data": [c[column] for c in customers],
            }
            for column in customers[0]
        ],
        "outputs": [{"name": "predict_proba"}],
    }


def score_in_three_protocols(server: ModelServer) -> str:
    """Score the two customers over V2, MLflow and TF-Serving; returns the V2 request's id."""
    reply, headers = server.call("POST", "/v2/models/churn/infer", v2_request(CUSTOMERS))
    probabilities = reply["outputs"][0]["data"]
    print(f"x-request-id: {headers['x-request-id']}  (model version {reply['model_version']})")
    if not probabilities[1] > probabilities[3]:
        sys.exit("demo failed: the unhappy monthly customer should be the likelier to leave")
    columns = list(CUSTOMERS[0])
    split = {"columns": columns, "data": [[c[k] for k in columns] for c in CUSTOMERS]}
    server.call("POST", "/invocations", {"dataframe_split": split})
    server.call("POST", "/v1/models/churn:predict", {"instances": CUSTOMERS})
    return headers["x-request-id"]


def served_version(server: ModelServer) -> str:
    reply, _ = server.call("POST", "/v2/models/churn/infer", v2_request(CUSTOMERS[:1]), show=False)
    return str(reply["model_version"])


def show_metrics(server: ModelServer) -> None:
    text, _ = server.call("GET", "/metrics", show=False)
    print(f"\n\033[1m$ curl {server.url}/metrics | grep model_predictions_total\033[0m")
    for line in str(text).splitlines():
        if line.startswith("model_predictions_total"):
            print(line)
