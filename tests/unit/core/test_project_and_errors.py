from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from loopline.core.atomic import atomic_write_bytes
from loopline.core.errors import (
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    LockTimeout,
    LooplineError,
    MissingExtra,
    NotFound,
    RemoteError,
    StoreError,
)
from loopline.core.locking import ProjectLock
from loopline.core.project import find_project_root, relative_to_project


def test_exit_codes_are_distinct_by_meaning() -> None:
    codes = {
        cls: cls.exit_code
        for cls in (
            InvalidInput,
            NotFound,
            Conflict,
            IntegrityError,
            RemoteError,
            StoreError,
            MissingExtra,
        )
    }
    assert len(set(codes.values())) == len(codes)
    assert ConfigError.exit_code == InvalidInput.exit_code
    assert LockTimeout.exit_code == Conflict.exit_code
    assert all(issubclass(cls, LooplineError) for cls in codes)


def test_error_carries_hint() -> None:
    err = NotFound("x is missing", hint="create x")
    assert str(err) == "x is missing (create x)"
    assert MissingExtra("s3fs", "s3").hint == "install it with: pip install 'loopline[s3]'"


def test_project_root_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / ".loopline").mkdir()
    (tmp_path / ".loopline" / "config.yaml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / ".loopline").mkdir()  # no config: not a project, the search goes on upwards
    assert find_project_root(deep) == tmp_path


def test_no_project_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="loopline init"):
        find_project_root(tmp_path)


def test_paths_outside_or_inside_loopline_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert relative_to_project(tmp_path, "data/x.csv") == "data/x.csv"
    with pytest.raises(InvalidInput, match="outside the project"):
        relative_to_project(tmp_path, "../elsewhere")
    with pytest.raises(InvalidInput, match="Loopline's own folder"):
        relative_to_project(tmp_path, ".loopline/objects")
    with pytest.raises(InvalidInput, match="project root"):
        relative_to_project(tmp_path, ".")


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def _hold_lock(path: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    with ProjectLock(Path(path)):
        ready.set()
        time.sleep(seconds)


def test_lock_waits_then_times_out_naming_the_holder(tmp_path: Path) -> None:
    lock_file = tmp_path / "lock"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(lock_file), ready, 3.0))
    holder.start()
    try:
        assert ready.wait(10)
        start = time.monotonic()
        with pytest.raises(LockTimeout, match=f"pid {holder.pid}"):
            ProjectLock(lock_file, timeout=0.5).acquire()
        assert time.monotonic() - start < 2.5
    finally:
        holder.join()
    with ProjectLock(lock_file, timeout=1):
        assert os.path.exists(lock_file)
