"""Push and pull through a folder remote, including crashes (SIGKILL) in the middle."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loopline.core.hashing import hash_file
from loopline.objects.manifest import DIR_SUFFIX
from tests.conftest import LOOPLINE, make_tree, run_cli

N_MANY = 3000  # enough small files that a pull lasts well over the moment we kill it


def _objects_in(folder: Path) -> dict[str, Path]:
    """``<2 hex>/<rest>`` files in a cache or a folder remote, by object id."""
    found = {}
    if not folder.is_dir():
        return found
    for shard in folder.iterdir():
        if len(shard.name) == 2 and shard.is_dir():
            for path in shard.iterdir():
                found[shard.name + path.name] = path
    return found


def _assert_every_object_complete(folder: Path) -> int:
    objects = _objects_in(folder)
    for oid, path in objects.items():
        actual = hash_file(path) + (DIR_SUFFIX if oid.endswith(DIR_SUFFIX) else "")
        assert actual == oid, f"{path} is a partial or corrupt object (hashes to {actual})"
    return len(objects)


def _workspace(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in files if (root / rel).is_file()}


def _setup(project: Path, tmp_path: Path, files: dict[str, bytes], *targets: str) -> Path:
    remote = tmp_path / "remote-store"
    make_tree(project, files)
    added = run_cli("add", *targets, cwd=project)
    assert added.exit_code == 0, added.output
    configured = run_cli("remote", "add", "-d", "store", str(remote), cwd=project)
    assert configured.exit_code == 0, configured.output
    return remote


def _small_files(count: int) -> dict[str, bytes]:
    return {
        f"data/shard-{i % 16:02d}/row-{i:05d}.csv": f"{i},{i * i},{i % 7}\n".encode() * 4
        for i in range(count)
    }


def _forget(project: Path, *paths: str) -> None:
    shutil.rmtree(project / ".loopline" / "objects")
    for rel in paths:
        target = project / rel
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()


def test_push_then_pull_round_trip_restores_identical_bytes(
    project: Path, tmp_path: Path
) -> None:
    files = {
        **_small_files(50),
        "data/empty.txt": b"",
        "model.bin": os.urandom(3 * 1024 * 1024),
    }
    remote = _setup(project, tmp_path, files, "data", "model.bin")
    cached = _objects_in(project / ".loopline" / "objects")

    pushed = run_cli("push", cwd=project)

    assert pushed.exit_code == 0, pushed.output
    assert f"{len(cached)} objects pushed to 'store' (0 already there)" in pushed.stdout
    assert set(_objects_in(remote)) == set(cached)
    assert _assert_every_object_complete(remote) == len(cached)
    assert not any((remote / "tmp").iterdir()), "temporary uploads were left on the remote"

    _forget(project, "data", "model.bin")
    pulled = run_cli("pull", cwd=project)

    assert pulled.exit_code == 0, pulled.output
    assert f"{len(cached)} objects fetched from 'store'" in pulled.stdout
    assert _workspace(project, files) == files
    status = run_cli("status", cwd=project)
    assert status.exit_code == 0, status.output
    assert "Data is up to date." in status.stdout
    again = run_cli("push", cwd=project)
    assert f"0 objects pushed to 'store' ({len(cached)} already there)" in again.stdout


def _tmp_has_files(folder: Path) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return any(folder.iterdir())
        except FileNotFoundError:
            return False

    return check


def _kill_when(command: list[str], cwd: Path, ready: Callable[[], bool]) -> int:
    """Start ``command``, SIGKILL it as soon as ``ready()``; returns its exit status."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                time.sleep(0.05)  # let it get properly into the middle of the work
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment",
    ["while downloading", "after the first objects were published"],
)
def test_kill_9_during_pull_leaves_only_complete_objects(
    project: Path, tmp_path: Path, moment: str
) -> None:
    files = {**_small_files(N_MANY), "weights.bin": os.urandom(8 * 1024 * 1024)}
    _setup(project, tmp_path, files, "data", "weights.bin")
    pushed = run_cli("push", cwd=project)
    assert pushed.exit_code == 0, pushed.output
    _forget(project, "data", "weights.bin")
    objects = project / ".loopline" / "objects"
    ready = (
        _tmp_has_files(objects / "tmp")
        if moment == "while downloading"
        else lambda: bool(_objects_in(objects))
    )

    status = _kill_when([LOOPLINE, "pull", "-j", "2"], project, ready)

    assert status == -signal.SIGKILL, "pull finished before it could be killed; use more data"
    complete = _assert_every_object_complete(objects)
    assert complete < N_MANY + 2, "the kill came after every object was in place"

    rerun = run_cli("pull", cwd=project)

    assert rerun.exit_code == 0, rerun.output
    assert _workspace(project, files) == files
    assert _assert_every_object_complete(objects) == N_MANY + 2
    status_after = run_cli("status", cwd=project)
    assert status_after.exit_code == 0, status_after.output
    assert "Data is up to date." in status_after.stdout


@pytest.mark.slow
def test_kill_9_during_push_leaves_only_complete_objects_on_the_remote(
    project: Path, tmp_path: Path
) -> None:
    files = {**_small_files(N_MANY), "weights.bin": os.urandom(8 * 1024 * 1024)}
    remote = _setup(project, tmp_path, files, "data", "weights.bin")

    status = _kill_when([LOOPLINE, "push", "-j", "2"], project, lambda: bool(_objects_in(remote)))

    assert status == -signal.SIGKILL, "push finished before it could be killed; use more data"
    assert _assert_every_object_complete(remote) < N_MANY + 2
    # A manifest on the remote promises that its files are there too.
    for oid in _objects_in(remote):
        assert not oid.endswith(DIR_SUFFIX), "a manifest was uploaded before all its files"

    rerun = run_cli("push", cwd=project)

    assert rerun.exit_code == 0, rerun.output
    assert _assert_every_object_complete(remote) == N_MANY + 2


@pytest.mark.parametrize("lost", ["a file object", "the directory manifest"])
def test_pull_of_an_object_missing_from_the_remote_names_it(
    project: Path, tmp_path: Path, lost: str
) -> None:
    files = _small_files(20)
    remote = _setup(project, tmp_path, files, "data")
    assert run_cli("push", cwd=project).exit_code == 0
    manifest_oid = next(o for o in _objects_in(remote) if o.endswith(DIR_SUFFIX))
    missing = (
        manifest_oid if lost == "the directory manifest" else hash_file(project / "data/shard-03/row-00003.csv")
    )
    (remote / missing[:2] / missing[2:]).unlink()
    _forget(project, "data")

    pulled = run_cli("pull", cwd=project)

    assert pulled.exit_code == 3, pulled.output
    assert missing in pulled.stderr
    assert "'store'" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert missing not in _objects_in(project / ".loopline" / "objects")
    _assert_every_object_complete(project / ".loopline" / "objects")
    assert not (project / "data").exists()
