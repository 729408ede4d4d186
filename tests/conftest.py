"""Fixtures shared by every test: real projects in temporary folders and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopline.data.init import init_project

LOOPLINE = str(Path(sys.executable).with_name("loopline"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Loopline tests",
    "GIT_AUTHOR_EMAIL": "tests@loopline.invalid",
    "GIT_COMMITTER_NAME": "Loopline tests",
    "GIT_COMMITTER_EMAIL": "tests@loopline.invalid",
}


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LOOPLINE_"):
            monkeypatch.delenv(name)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised Loopline project (also a git repository), made the current folder."""
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    monkeypatch.chdir(root)
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run the real ``loopline`` executable, as a user would."""
    done = subprocess.run(
        [LOOPLINE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli() -> type:
    return _Cli


class _Cli:
    run = staticmethod(run_cli)


def make_tree(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def clean_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "scratch"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
