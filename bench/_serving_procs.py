"""Server processes for the serving benchmarks: start, wait, check one answer, measure, stop.

Every server runs in its own session, so its process-group id is its PID; stopping it sends
SIGTERM (then SIGKILL) to that group only. `ServerPool` remembers every server it started and
stops them all on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "HttpAnswer",
    "ServerPool",
    "ServerStartFailed",
    "free_port",
    "pinned_env",
    "post_json",
    "tree_rss_bytes",
]

THREAD_PINS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
_DROPPED = {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}


class ServerStartFailed(RuntimeError):
    """A server exited or did not answer in time; the message ends with its log's tail."""


def pinned_env(
    extra: dict[str, str] | None = None, path_first: Path | None = None
) -> dict[str, str]:
    """This process's environment with BLAS/OpenMP pinned to one thread and telemetry off."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(THREAD_PINS)
    env.update({"DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true"})
    env["BENTOML_DO_NOT_TRACK"] = "true"
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def post_json(port: int, path: str, body: bytes, timeout: float = 30.0) -> HttpAnswer:
    """One POST to 127.0.0.1 with no redirect following, so a 3xx counts as a wrong answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return HttpAnswer(response.status, response.read())
    finally:
        conn.close()


@dataclass
class Started:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServerPool:
    """Starts servers and guarantees each is stopped by its PID, whatever happens."""

    log_dir: Path
    started: list[Started] = field(default_factory=list)

    def start(
        self, name: str, cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None
    ) -> Started:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd or self.log_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Started(name, proc, log)
        self.started.append(server)
        return server

    def wait_ready(
        self, server: Started, port: int, path: str, body: bytes, timeout: float = 180.0
    ) -> HttpAnswer:
        """Poll with the benchmark's own request until it gets a 200 (or give up)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise ServerStartFailed(
                    f"{server.name} exited with {server.proc.returncode}:\n{server.tail()}"
                )
            try:
                answer = post_json(port, path, body, timeout=10.0)
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status == 200:
                    return answer
                last = f"HTTP {answer.status}: {answer.body[:300]!r}"
            time.sleep(0.3)
        raise ServerStartFailed(
            f"{server.name} gave no 200 for POST {path} within {timeout:g} s ({last}):\n"
            f"{server.tail()}"
        )

    def stop(self, server: Started) -> None:
        """SIGTERM the server's process group (its id is the server's PID), then SIGKILL."""
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            if server.proc.poll() is not None:
                break
            with suppress(ProcessLookupError):
                os.killpg(server.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                server.proc.wait(grace)
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # workers left behind by a parent that quit
        if server in self.started:
            self.started.remove(server)

    def stop_all(self) -> None:
        for server in list(reversed(self.started)):
            self.stop(server)

    @contextmanager
    def running(self) -> Iterator[ServerPool]:
        """Stop every started server on exit, including on Ctrl-C and SIGTERM."""

        def on_term(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            yield self
        finally:
            self.stop_all()
            signal.signal(signal.SIGTERM, previous)


# -- resident memory of a process tree -------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(c) for c in text.split())
    return found


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants, from /proc/<pid>/task/<tid>/children."""
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        queue.extend(_children(pid))
    return pids


def _rss_bytes(pid: int) -> int:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_rss_bytes(root: int) -> tuple[int, int]:
    """(total RSS in bytes, number of processes) of `root` and its descendants."""
    pids = tree_pids(root)
    return sum(_rss_bytes(p) for p in pids), len(pids)
