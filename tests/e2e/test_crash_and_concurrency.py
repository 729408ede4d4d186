"""Killed processes and concurrent writers never leave partial objects or broken pointers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from loopline.core.hashing import hash_file
from tests.conftest import LOOPLINE, make_tree, run_cli


def _assert_every_object_is_whole(project: Path) -> int:
    count = 0
    for obj in (project / ".loopline" / "objects").glob("??/*"):
        name = obj.parent.name + obj.name
        digest = hash_file(obj) + (".dir" if name.endswith(".dir") else "")
        assert digest == name, f"partial or corrupt object visible: {obj}"
        count += 1
    return count


def _many_files(project: Path, count: int, size: int) -> None:
    block = os.urandom(size)
    make_tree(
        project,
        {
            f"data/part{i % 50:02d}/f{i:05d}.bin": block[: size - 8] + i.to_bytes(8, "big")
            for i in range(count)
        },
    )


@pytest.mark.slow
def test_kill_9_during_add_leaves_only_whole_objects_and_rerun_completes(project: Path) -> None:
    _many_files(project, 6000, 16 * 1024)
    tmp_dir = project / ".loopline" / "objects" / "tmp"
    proc = subprocess.Popen([LOOPLINE, "add", "data"], cwd=project)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if tmp_dir.is_dir() and any(tmp_dir.iterdir()):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "add finished before it could be interrupted; use more data"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert not (project / "data.loopline").exists()  # the pointer is written last
    _assert_every_object_is_whole(project)
    again = run_cli("add", "data")
    assert again.exit_code == 0, again.output
    assert _assert_every_object_is_whole(project) == 6001
    assert run_cli("status").stdout.strip() == "Data is up to date."


def test_two_adds_of_the_same_folder_at_once(project: Path) -> None:
    _many_files(project, 1500, 2048)
    procs = [
        subprocess.Popen([LOOPLINE, "add", "data"], cwd=project, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert _assert_every_object_is_whole(project) == 1501
    assert run_cli("status").stdout.strip() == "Data is up to date."
    assert "nfiles: 1500" in (project / "data.loopline").read_text()


def test_interrupted_checkout_never_leaves_a_half_written_file(project: Path) -> None:
    make_tree(project, {"big.bin": os.urandom(64 * 1024 * 1024)})
    run_cli("add", "big.bin")
    original = hash_file(project / "big.bin")
    (project / "big.bin").unlink()
    proc = subprocess.Popen([LOOPLINE, "checkout"], cwd=project)
    time.sleep(0.15)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    target = project / "big.bin"
    assert not target.exists() or hash_file(target) == original
    assert run_cli("checkout").exit_code == 0
    assert hash_file(target) == original
