"""What a run ran with: Python, platform, packages, git commit, command line.

Recorded automatically at the start of each run (as ``loopline.*`` and MLflow's
``mlflow.source.*`` tags plus an ``environment.json`` artifact), so any run can be reproduced.
The data a run reads is not guessed from the project's pointer files: a run declares it with
``log_input`` (see :mod:`loopline.tracking.inputs`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Environment", "capture_environment"]


@dataclass(frozen=True)
class Environment:
    python: str
    platform: str
    command: list[str]
    packages: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_branch: str | None = None

    def tags(self) -> dict[str, str]:
        tags = {
            "loopline.python": self.python,
            "loopline.platform": self.platform,
            "mlflow.source.name": self.command[0] if self.command else "",
            "mlflow.source.type": "LOCAL",
        }
        if self.git_commit:
            tags["mlflow.source.git.commit"] = self.git_commit
            tags["loopline.git.dirty"] = str(bool(self.git_dirty)).lower()
        if self.git_branch:
            tags["mlflow.source.git.branch"] = self.git_branch
        return tags

    def as_dict(self) -> dict[str, object]:
        return {
            "python": self.python,
            "platform": self.platform,
            "command": self.command,
            "git": {"commit": self.git_commit, "dirty": self.git_dirty, "branch": self.git_branch},
            "packages": self.packages,
        }


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _packages() -> dict[str, str]:
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[str(name)] = dist.version
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))


def capture_environment(root: Path | None = None, *, packages: bool = True) -> Environment:
    root = root or Path.cwd()
    commit = _git(root, "rev-parse", "HEAD")
    dirty = None
    if commit:
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    return Environment(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        command=[
            os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
            *sys.argv[1:],
        ],
        packages=_packages() if packages else {},
        git_commit=commit,
        git_dirty=dirty,
        git_branch=_git(root, "rev-parse", "--abbrev-ref", "HEAD") if commit else None,
    )
