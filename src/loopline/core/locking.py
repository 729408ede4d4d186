"""An inter-process lock on the project, so two writers never interleave their changes."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from loopline.core.errors import LockTimeout

__all__ = ["ProjectLock"]


class ProjectLock:
    """An exclusive ``flock`` on a file; waits up to ``timeout`` seconds for another holder."""

    def __init__(self, path: Path, *, timeout: float = 120.0, poll: float = 0.05) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockTimeout(
                        f"another Loopline command ({holder}) has held the project lock "
                        f"{self.path} for more than {self.timeout:.0f} s",
                        hint="wait for it to finish, or stop it if it is hung",
                    ) from None
                time.sleep(self.poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown pid"
    except OSError:
        return "unknown pid"
