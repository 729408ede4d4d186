"""One stage execution as a self-contained, picklable task: what any executor runs.

:func:`run_stage_task` is a plain module-level function taking plain values, so a local
thread pool and a Dask worker run exactly the same code. With ``remote`` set the task runs in
a scratch folder on whatever machine it lands: deps come from the remote, outs go back to it.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loopline.core.config import RemoteConfig
from loopline.core.errors import LooplineError
from loopline.pipeline._lock import LockedPath
from loopline.pipeline._paths import check_writable

if TYPE_CHECKING:
    import subprocess

__all__ = ["StageOutcome", "StageTask", "run_commands", "run_stage_task", "stop_running_commands"]

TAIL_LINES = 40
_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


_GRACE_S = 3.0  # how long a stopped command may take to exit before it is killed


def stop_running_commands() -> None:
    """Stop every stage command this process started that is still running (Ctrl-C): SIGTERM
    to each command's process group (its shell and whatever that started), then SIGKILL to
    what is left after a grace period, so that a command ignoring SIGTERM, or a background
    child holding its output open, cannot keep ``repro`` from cleaning up."""
    import signal
    import subprocess

    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@dataclass(frozen=True)
class StageTask:
    name: str
    root: str  # the project root (absolute); ignored when running through a remote
    commands: tuple[str, ...]
    wdir: str = "."
    clean: tuple[str, ...] = ()  # outs deleted before the command runs (not persisted ones)
    outs: tuple[tuple[str, bool], ...] = ()  # (path, cache) of every out
    inputs: tuple[LockedPath, ...] = ()  # deps and params files, for a remote run
    remote: RemoteConfig | None = None


@dataclass(frozen=True)
class StageOutcome:
    name: str
    exit_code: int
    duration: float
    log_tail: str
    host: str
    outs: tuple[LockedPath, ...] | None = None  # set when the outs went to the remote
    missing: tuple[str, ...] = ()  # outs the command did not write (remote runs)


def run_stage_task(
    task: StageTask,
    on_line: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> StageOutcome:
    """Run the stage's commands; ``on_line`` receives each line of output as it comes. Once
    ``cancel`` is set, no command starts and one starting is stopped at once."""
    if task.remote is not None:
        from loopline.pipeline._remote_run import run_through_remote

        return run_through_remote(task)
    start = time.perf_counter()
    root = Path(task.root)
    try:
        prepare_outs(root, task)
        code, tail = run_commands(task.commands, root / task.wdir, on_line, cancel)
    except OSError as exc:  # e.g. the wdir does not exist, or the shell cannot start
        code, tail = 127, f"could not start the command: {exc}"
    except LooplineError as exc:  # an out that leads out of the project
        code, tail = 1, str(exc)
    return StageOutcome(task.name, code, time.perf_counter() - start, tail, hostname())


def hostname() -> str:
    import socket

    return socket.gethostname()


def prepare_outs(root: Path, task: StageTask) -> None:
    """Delete outs that are not persisted (the command starts from nothing, as in DVC) and
    create the folders the outs go into."""
    for relpath, _cache in task.outs:
        check_writable(root, relpath, f"output of stage '{task.name}'")
    for relpath in task.clean:
        path = root / relpath
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    for relpath, _cache in task.outs:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)


def run_commands(
    commands: tuple[str, ...],
    cwd: Path,
    on_line: Callable[[str], None] | None,
    cancel: threading.Event | None = None,
) -> tuple[int, str]:
    """Run each command through the user's shell in ``cwd``, stopping at the first failure;
    returns the exit code and the last lines of output."""
    import subprocess

    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    shell = os.environ.get("SHELL") or "/bin/sh"
    for command in commands:
        if cancel is not None and cancel.is_set():
            return 130, "\n".join([*tail, "stopped before it started"])
        if on_line is not None:
            on_line(f"> {command}")
        with subprocess.Popen(
            command,
            shell=True,
            executable=shell,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # its own process group, which Ctrl-C stops as a whole (stop_running_commands)
            start_new_session=True,
        ) as proc:
            with _live_lock:
                _live.add(proc)
                if cancel is not None and cancel.is_set():  # Ctrl-C came as it started
                    import signal

                    _signal_group(proc, signal.SIGKILL)
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    tail.append(line)
                    if on_line is not None:
                        on_line(line)
                code = proc.wait()
            finally:
                with _live_lock:
                    _live.discard(proc)
        if code != 0:
            return code, "\n".join(tail)
    return 0, "\n".join(tail)
