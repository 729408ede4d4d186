"""Real `loopline serve` processes and small real models for the model-server integration tests.

A server runs as the real executable on a free 127.0.0.1 port and is stopped by its PID (SIGTERM,
then SIGKILL for it and any worker it left behind). Requests go through ``http.client`` so every
status code, header and body byte is what the server sent.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tests.conftest import LOOPLINE

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "late_payments",
    "logins_per_week",
    "data_usage_gb",
    "contract_months",
    "num_products",
    "discount_pct",
    "age",
    "household_size",
    "satisfaction",
    "complaints",
    "avg_visit_min",
    "days_since_login",
    "referrals",
    "plan_changes",
    "autopay",
    "paperless",
]
MIXED_COLUMNS = ["plan", "monthly_charges", "support_calls"]
START_TIMEOUT = 45.0
STOP_TIMEOUT = 40.0
T = TypeVar("T")


# -- models ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnData:
    frame: Any  # pandas.DataFrame with FEATURES
    labels: Any


def churn_data(seed: int = 0, rows: int = 400) -> ChurnData:
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=len(FEATURES), n_informative=6, random_state=seed
    )
    return ChurnData(pd.DataFrame(x, columns=FEATURES), y)


def save_churn_model(folder: Path, data: ChurnData, *, kind: str = "logreg") -> Any:
    """Fit a small classifier on ``data`` and write it as a model folder; return the estimator."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from loopline.models.sklearn import save_model

    if kind == "logreg":
        estimator = LogisticRegression(max_iter=500)
    else:
        estimator = DecisionTreeClassifier(max_depth=3, random_state=0)
    estimator.fit(data.frame, data.labels)
    save_model(estimator, folder, input_example=data.frame.head(3))
    return estimator


def mixed_data(rows: int = 60) -> ChurnData:
    import pandas as pd

    rng = np.random.default_rng(3)
    plans = np.array(["basic", "pro", "family"])[rng.integers(0, 3, rows)]
    frame = pd.DataFrame(
        {
            "plan": plans,
            "monthly_charges": rng.uniform(10, 90, rows).round(2),
            "support_calls": rng.integers(0, 6, rows).astype(float),
        }
    )
    labels = ((frame.plan == "basic") & (frame.support_calls > 2)).astype(int).to_numpy()
    return ChurnData(frame, labels)


def save_mixed_model(folder: Path, data: ChurnData) -> Any:
    """A pipeline with a one-hot encoded string column beside numbers (signature has a string)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from loopline.models.sklearn import save_model

    estimator = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    ).fit(data.frame, data.labels)
    save_model(estimator, folder, input_example=data.frame.head(3))
    return estimator


# -- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
    finally:
        conn.close()


def post_json(port: int, path: str, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    return http_request(
        port,
        "POST",
        path,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def v2_columns(frame: Any, datatypes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One V2 input tensor per column of ``frame``."""
    tensors = []
    for name in frame.columns:
        column = frame[name]
        numeric = column.dtype.kind in "fiu"
        datatype = (datatypes or {}).get(name, "FP64" if numeric else "BYTES")
        data = column.astype(float).tolist() if numeric else column.astype(str).tolist()
        tensors.append({"name": name, "shape": [len(frame)], "datatype": datatype, "data": data})
    return tensors


def v2_matrix(frame: Any, name: str = "input-0") -> dict[str, Any]:
    """One V2 input tensor ``[rows, columns]`` in the frame's column order."""
    values = frame.to_numpy(dtype=float)
    return {
        "name": name,
        "shape": list(values.shape),
        "datatype": "FP64",
        "data": values.reshape(-1).tolist(),
    }


# -- waiting -----------------------------------------------------------------------------------


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# -- processes ---------------------------------------------------------------------------------


def child_pids(pid: int) -> set[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    children: set[int] = set()
    with suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with suppress(FileNotFoundError, ProcessLookupError):
                text = (task / "children").read_text()
                children.update(int(p) for p in text.split())
    return children


def process_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (``Z`` for a zombie), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


@dataclass
class ModelServer:
    """A running ``loopline serve`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: Path
    seen_children: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return http_request(self.port, "GET", path, headers=headers)

    def post(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Answer:
        return post_json(self.port, path, payload, headers)

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return http_request(self.port, method, path, **kwargs)

    def workers(self) -> set[int]:
        """Live worker processes: children of the server started by multiprocessing's spawn
        (not its resource tracker), not zombies."""
        children = {p for p in child_pids(self.pid) if _alive(p)}
        self.seen_children |= children
        return {p for p in children if "multiprocessing.spawn" in _command_line(p)}

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait for the exit code (a graceful shutdown)."""
        self.workers()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop the server and every worker it started, by PID; never fails."""
        self.workers()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        for pid in self.seen_children:
            if _alive(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_server(
    args: Sequence[str],
    log_dir: Path,
    *,
    cwd: Path | None = None,
    ready_path: str = "/v2/health/ready",
    workers: int = 1,
) -> ModelServer:
    """Start ``loopline serve ARGS`` on a free port and wait until ``ready_path`` answers 200
    (and, with several workers, until every worker is up)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for attempt in range(3):  # a port taken between choosing and binding: choose again
        port = free_port()
        log_file = log_dir / f"serve-{port}.log"
        with open(log_file, "wb") as log:
            process = subprocess.Popen(
                [LOOPLINE, "serve", *args, "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd or log_dir,
            )
        server = ModelServer(process, port, log_file)
        try:
            if _wait_ready(server, ready_path, workers):
                return server
        except BaseException:
            server.stop()
            raise
        server.stop()
        problems.append(f"attempt {attempt + 1} on port {port}:\n{server.log()[-3000:]}")
        if "address already in use" not in server.log().lower():
            break
    raise AssertionError("loopline serve did not start:\n" + "\n".join(problems))


def _wait_ready(server: ModelServer, ready_path: str, workers: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if server.get(ready_path).status == 200 and (
                workers == 1 or len(server.workers()) >= workers
            ):
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    return False


@contextmanager
def running_server(args: Sequence[str], log_dir: Path, **kwargs: Any) -> Iterator[ModelServer]:
    server = start_server(args, log_dir, **kwargs)
    try:
        yield server
    finally:
        server.stop()


# -- steady load -------------------------------------------------------------------------------


@dataclass
class Outcome:
    at: float
    status: int  # 0: the connection failed
    body: Any


class SteadyLoad:
    """A thread sending one request after another until stopped, recording every outcome."""

    def __init__(self, send: Callable[[], Answer], pause_s: float = 0.0) -> None:
        self._send = send
        self._pause_s = pause_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._thread = threading.Thread(target=self._run, name="steady-load", daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self._send()
                body = answer.json() if answer.status == 200 else answer.text
                outcome = Outcome(time.monotonic(), answer.status, body)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                outcome = Outcome(time.monotonic(), 0, repr(exc))
            with self._lock:
                self.outcomes.append(outcome)
            if self._pause_s:
                self._stop.wait(self._pause_s)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def count(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def wait_for(self, more: int, timeout: float = 20.0) -> None:
        """Wait until ``more`` requests beyond the current count have been answered."""
        target = self.count() + more
        wait_until(lambda: self.count() >= target, timeout, f"{more} more requests")

    def failures(self) -> list[Outcome]:
        return [o for o in self.snapshot() if o.status != 200]


# -- Prometheus text ---------------------------------------------------------------------------


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample named ``name`` in a Prometheus exposition, as (labels, value)."""
    from prometheus_client.parser import text_string_to_metric_families

    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found.append((dict(sample.labels), float(sample.value)))
    return found


def metric_total(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        value
        for have, value in metric_samples(text, name)
        if all(have.get(k) == v for k, v in labels.items())
    )
