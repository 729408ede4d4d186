from __future__ import annotations

import os
from pathlib import Path

import pytest

import loopline.objects.build as build_module
from loopline.core.errors import IntegrityError, NotFound
from loopline.core.hashing import hash_bytes
from loopline.objects.batch import store_files
from loopline.objects.build import build_object
from loopline.objects.checkout import materialize
from loopline.objects.odb import ObjectStore
from loopline.objects.state import StateCache
from tests.conftest import make_tree


@pytest.fixture
def odb(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


@pytest.fixture
def state(tmp_path: Path) -> StateCache:
    with StateCache(tmp_path / "state.db") as cache:
        yield cache


def _store(ws: Path, rel: str, odb: ObjectStore, state: StateCache) -> str:
    built = build_object(ws, rel, state, odb=odb, with_files=True)
    store_files(odb, built.files, jobs=4)
    if built.manifest is not None:
        odb.add_manifest(built.manifest)
    return built.oid


def test_add_deduplicates_and_objects_are_read_only(
    tmp_path: Path, odb: ObjectStore, state: StateCache
) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"d/a.txt": "same", "d/b.txt": "same", "d/c/x.txt": "other"})
    oid = _store(ws, "d", odb, state)
    objects = sorted(odb.oids())
    assert len(objects) == 3  # two distinct files + the manifest
    assert oid in objects
    path = odb.path(hash_bytes(b"same"))
    assert path.read_bytes() == b"same"
    assert path.stat().st_mode & 0o222 == 0
    assert not any(p.is_file() for p in odb.tmp_dir.rglob("*"))


def test_unchanged_files_are_never_rehashed(
    tmp_path: Path, odb: ObjectStore, state: StateCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {f"d/{i}.txt": str(i) for i in range(100)})
    first = build_object(ws, "d", state).oid
    calls: list[Path] = []
    real = build_module.hash_file
    monkeypatch.setattr(
        build_module, "hash_file", lambda p, s=None: calls.append(Path(p)) or real(p, s)
    )
    assert build_object(ws, "d", state).oid == first
    assert calls == []
    (ws / "d" / "7.txt").write_text("changed")
    second = build_object(ws, "d", state).oid
    assert second != first
    assert calls == [ws / "d" / "7.txt"]


def test_touch_rehashes_but_keeps_the_hash(tmp_path: Path, state: StateCache) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"f.bin": b"\x00" * 10})
    before = build_object(ws, "f.bin", state).oid
    st = (ws / "f.bin").stat()
    os.utime(ws / "f.bin", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert build_object(ws, "f.bin", state).oid == before


def test_corrupt_state_cache_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not sqlite" * 100)
    ws = tmp_path / "ws"
    make_tree(ws, {"f": "x"})
    with StateCache(db) as cache:
        assert build_object(ws, "f", cache).oid == hash_bytes(b"x")


def test_materialize_restores_deletes_extras_and_keeps_modes(
    tmp_path: Path, odb: ObjectStore, state: StateCache
) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"d/a.txt": "a", "d/sub/b.txt": "b", "d/run.sh": "#!/bin/sh\n"})
    (ws / "d" / "run.sh").chmod(0o755)
    oid = _store(ws, "d", odb, state)
    (ws / "d" / "a.txt").unlink()
    make_tree(ws, {"d/extra/new.txt": "junk"})
    stats = materialize(ws, "d", oid, odb, state, link_types=("copy",))
    assert (stats.written, stats.deleted) == (1, 1)
    assert (ws / "d" / "a.txt").read_text() == "a"
    assert not (ws / "d" / "extra").exists()
    assert os.access(ws / "d" / "run.sh", os.X_OK)
    assert build_object(ws, "d", state).oid == oid


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_link_types(tmp_path: Path, odb: ObjectStore, state: StateCache, link: str) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"d/a.txt": "a"})
    oid = _store(ws, "d", odb, state)
    (ws / "d" / "a.txt").unlink()
    materialize(ws, "d", oid, odb, state, link_types=(link,))
    target = ws / "d" / "a.txt"
    assert target.read_text() == "a"
    if link == "hardlink":
        assert target.stat().st_ino == odb.path(hash_bytes(b"a")).stat().st_ino
    else:
        assert target.is_symlink()


def test_verify_detects_a_corrupt_object_and_leaves_the_workspace_alone(
    tmp_path: Path, odb: ObjectStore, state: StateCache
) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"f.csv": "good"})
    oid = _store(ws, "f.csv", odb, state)
    obj = odb.path(oid)
    obj.chmod(0o644)
    obj.write_bytes(b"evil")
    (ws / "f.csv").write_text("local edit")
    with pytest.raises(IntegrityError, match=oid):
        materialize(ws, "f.csv", oid, odb, state, link_types=("copy",), verify=True)
    assert (ws / "f.csv").read_text() == "local edit"


def test_missing_object_names_the_path(tmp_path: Path, odb: ObjectStore, state: StateCache) -> None:
    with pytest.raises(NotFound, match=r"data\.csv.*loopline pull"):
        materialize(tmp_path, "data.csv", "a" * 64, odb, state, link_types=("copy",))


def test_changing_a_file_while_adding_it_is_refused(
    tmp_path: Path, odb: ObjectStore, state: StateCache
) -> None:
    ws = tmp_path / "ws"
    make_tree(ws, {"f": "v1"})
    built = build_object(ws, "f", state, odb=odb, with_files=True)
    (ws / "f").write_text("v2")
    with pytest.raises(IntegrityError, match="changed while it was being added"):
        store_files(odb, built.files, jobs=1)
    assert list(odb.oids()) == []
