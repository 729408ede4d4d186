"""Push and pull through a folder remote, including crashes (SIGKILL) in the middle."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopline.core.hashing import hash_file
from loopline.data.init import init_project
from loopline.objects.manifest import DIR_SUFFIX
from tests.conftest import GIT_ENV, LOOPLINE, git, make_tree, run_cli

N_MANY = 2200  # over one pull batch (2000 objects), and a pull lasts well over a second
N_OBJECTS = N_MANY + 2  # the files, their manifest, weights.bin


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


def test_push_then_pull_round_trip_restores_identical_bytes(project: Path, tmp_path: Path) -> None:
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


@dataclass(frozen=True)
class Pushed:
    """A project whose data was added and pushed to a folder remote (built once per module)."""

    root: Path
    remote: Path
    files: dict[str, bytes]


@pytest.fixture(scope="module")
def pushed_many(tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    base = tmp_path_factory.mktemp("pushed-many")
    root = base / "project"
    root.mkdir()
    files = {**_small_files(N_MANY), "weights.bin": os.urandom(8 * 1024 * 1024)}
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("LOOPLINE_")]:
            mp.delenv(name)
        for name, value in GIT_ENV.items():
            mp.setenv(name, value)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        init_project(root)
        remote = _setup(root, base, files, "data", "weights.bin")
        pushed = run_cli("push", cwd=root)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "data")
    assert pushed.exit_code == 0, pushed.output
    assert len(_objects_in(remote)) == N_OBJECTS
    return Pushed(root, remote, files)


def _copy_project(source: Pushed, dest: Path, *, keep_cache: bool, remote: Path) -> Path:
    """A copy of the project pointing at ``remote``, without its data (and maybe its cache)."""
    skip = {
        str(source.root): {"data", "weights.bin"},
        str(source.root / ".loopline"): set() if keep_cache else {"objects"},
    }
    root = dest / "copy"
    shutil.copytree(
        source.root,
        root,
        ignore=lambda folder, names: [n for n in names if n in skip.get(folder, ())],
        symlinks=True,
    )
    moved = run_cli("remote", "add", "-d", "store", str(remote), "--force", cwd=root)
    assert moved.exit_code == 0, moved.output
    return root


def _holds_at_least(folder: Path, count: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return sum(1 for _ in zip(range(count), os.scandir(folder), strict=False)) >= count
        except FileNotFoundError:
            return False

    return check


def _kill_when(command: list[str], cwd: Path, ready: Callable[[], bool]) -> tuple[int, str]:
    """Start ``command``, SIGKILL it soon after ``ready()``; returns its exit status and stderr."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.monotonic() + 20
        try:
            while process.poll() is None and time.monotonic() < deadline:
                if ready():
                    time.sleep(0.02)  # let it get properly into the middle of the work
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.005)
            status = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        return status, errors.read().decode(errors="replace")


def _workspace_changes(root: Path) -> Callable[[], bool]:
    """True once the project folder holds an entry it did not hold before."""
    before = set(os.listdir(root))
    return lambda: bool(set(os.listdir(root)) - before)


def _killed_pull(pushed: Pushed, tmp_path: Path, moment: str) -> Path:
    """A copy of the project without cache or data, whose `loopline pull` was SIGKILLed."""
    root = _copy_project(pushed, tmp_path, keep_cache=False, remote=pushed.remote)
    objects = root / ".loopline" / "objects"
    if moment == "while downloading":  # many downloads in objects/tmp, none published yet
        ready = _holds_at_least(objects / "tmp", 100)
    elif moment == "after the first batch was published":
        # the manifest arrives alone first; more than one object means a batch of files
        def ready() -> bool:
            return len(_objects_in(objects)) > 1
    else:  # every object is in the cache and the data is being written to the workspace
        ready = _workspace_changes(root)

    status, stderr = _kill_when([LOOPLINE, "pull", "-j", "2"], root, ready)

    assert status == -signal.SIGKILL, f"pull ended ({status}) before the kill: {stderr}"
    complete = _assert_every_object_complete(objects)
    if moment != "while checking out":
        assert complete < N_OBJECTS, "the kill came after every object was in place"
    return root


def _assert_recovered(root: Path, pushed: Pushed) -> None:
    rerun = run_cli("pull", cwd=root)
    assert rerun.exit_code == 0, rerun.output
    assert _workspace(root, pushed.files) == pushed.files
    assert _assert_every_object_complete(root / ".loopline" / "objects") == N_OBJECTS
    status = run_cli("status", cwd=root)
    assert status.exit_code == 0, status.output
    assert "Data is up to date." in status.stdout


@pytest.mark.parametrize(
    "moment",
    [
        "while downloading",
        "after the first batch was published",
        "while checking out",
    ],
)
def test_kill_9_during_pull_then_rerun_leaves_a_clean_project(
    pushed_many: Pushed, tmp_path: Path, moment: str
) -> None:
    root = _killed_pull(pushed_many, tmp_path, moment)

    _assert_recovered(root, pushed_many)

    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""


def test_kill_9_during_checkout_then_rerun_restores_the_data(
    pushed_many: Pushed, tmp_path: Path
) -> None:
    root = _killed_pull(pushed_many, tmp_path, "while checking out")

    _assert_recovered(root, pushed_many)


def test_kill_9_during_push_leaves_only_complete_objects_on_the_remote(
    pushed_many: Pushed, tmp_path: Path
) -> None:
    remote = tmp_path / "fresh-remote"
    root = _copy_project(pushed_many, tmp_path, keep_cache=True, remote=remote)

    status, stderr = _kill_when(
        [LOOPLINE, "push", "-j", "2"], root, lambda: bool(_objects_in(remote))
    )

    assert status == -signal.SIGKILL, f"push ended ({status}) before the kill: {stderr}"
    assert _assert_every_object_complete(remote) < N_OBJECTS
    # A manifest on the remote promises that its files are there too.
    assert not any(oid.endswith(DIR_SUFFIX) for oid in _objects_in(remote))

    rerun = run_cli("push", cwd=root)

    assert rerun.exit_code == 0, rerun.output
    assert _assert_every_object_complete(remote) == N_OBJECTS


@pytest.mark.parametrize("lost", ["a file object", "the directory manifest"])
def test_pull_of_an_object_missing_from_the_remote_names_it(
    project: Path, tmp_path: Path, lost: str
) -> None:
    files = _small_files(20)
    remote = _setup(project, tmp_path, files, "data")
    assert run_cli("push", cwd=project).exit_code == 0
    manifest_oid = next(o for o in _objects_in(remote) if o.endswith(DIR_SUFFIX))
    missing = (
        manifest_oid
        if lost == "the directory manifest"
        else hash_file(project / "data/shard-03/row-00003.csv")
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


def test_a_relative_remote_stays_relative_and_works_from_any_folder(
    project: Path, tmp_path: Path
) -> None:
    make_tree(project, {"sub/data.txt": "shared"})
    assert run_cli("remote", "add", "-d", "r", "../shared-store", cwd=project).exit_code == 0
    config = (project / ".loopline" / "config.yaml").read_text()
    assert str(tmp_path) not in config  # a committed config must work in every clone
    assert "url: ../../shared-store" in config  # relative to .loopline/, as DVC does
    assert run_cli("add", "data.txt", cwd=project / "sub").exit_code == 0
    pushed = run_cli("push", cwd=project / "sub")
    assert pushed.exit_code == 0, pushed.output
    assert len(_objects_in(tmp_path / "shared-store")) == 1
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copytree(project, moved / "project", symlinks=True)
    shutil.copytree(tmp_path / "shared-store", moved / "shared-store")
    (moved / "project" / "sub" / "data.txt").unlink()
    shutil.rmtree(moved / "project" / ".loopline" / "objects")
    pulled = run_cli("pull", cwd=moved / "project")
    assert pulled.exit_code == 0, pulled.output
    assert (moved / "project" / "sub" / "data.txt").read_text() == "shared"


def test_an_empty_remote_url_is_refused(project: Path) -> None:
    for url in ("", "   ", "file://"):
        added = run_cli("remote", "add", "r6", url)
        assert added.exit_code != 0, url
        assert "empty" in added.stderr and "Traceback" not in added.output
    assert "r6" not in (project / ".loopline" / "config.yaml").read_text()
    assert run_cli("remote", "add", "r", "../ok").exit_code == 0
    assert run_cli("remote", "modify", "r", "url", "").exit_code != 0


def test_a_relative_file_url_is_relative_like_a_relative_folder(
    project: Path, tmp_path: Path
) -> None:
    make_tree(project, {"sub/data.txt": "shared"})
    added = run_cli("remote", "add", "-d", "r", "file://../shared", cwd=project / "sub")
    assert added.exit_code == 0, added.output
    assert "url: ../shared" in (project / ".loopline" / "config.yaml").read_text()
    assert run_cli("add", "sub/data.txt").exit_code == 0
    assert run_cli("push", cwd=project / "sub").exit_code == 0
    assert len(_objects_in(project / "shared")) == 1  # sub/../shared, never cwd-relative
    # Written by hand in the config, it is relative to .loopline/, as a plain folder is.
    config = project / ".loopline" / "config.yaml"
    config.write_text(config.read_text().replace("url: ../shared", "url: file://../shared2"))
    assert run_cli("push", cwd=project / "sub").exit_code == 0
    assert len(_objects_in(project / "shared2")) == 1
