"""Running the tools under test: a failed command raises with the tail of its output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["CommandFailed", "log", "run_checked"]


class CommandFailed(Exception):
    def __init__(self, cmd: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        super().__init__(f"`{' '.join(cmd)}` exited {proc.returncode}: {tail}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_checked(
    cmd: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CommandFailed(cmd, proc)
    return proc
