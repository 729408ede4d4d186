"""Symlinks are followed only inside the project; nothing is written through one that leaves it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopline.core.errors import InvalidInput
from loopline.objects.batch import store_path
from loopline.objects.build import build_object
from loopline.objects.checkout import materialize
from loopline.objects.odb import ObjectStore
from loopline.objects.state import StateCache
from tests.conftest import make_tree


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".loopline").mkdir(parents=True)
    (project / ".loopline" / "config.yaml").write_text("")
    return project


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    make_tree(folder, {"secret.txt": "do not copy", "keep.txt": "untouched"})
    return folder


@pytest.fixture
def odb(root: Path) -> ObjectStore:
    return ObjectStore(root / ".loopline" / "objects")


@pytest.fixture
def state(root: Path) -> Iterator[StateCache]:
    with StateCache(root / ".loopline" / "state.db") as cache:
        yield cache


def test_storing_refuses_a_file_link_leading_out(
    root: Path, outside: Path, odb: ObjectStore, state: StateCache
) -> None:
    make_tree(root, {"data/a.txt": "a"})
    os.symlink(outside / "secret.txt", root / "data" / "l")
    with pytest.raises(InvalidInput, match="outside the project"):
        store_path(root, "data", state, odb, jobs=1)
    os.symlink(outside / "secret.txt", root / "single")
    with pytest.raises(InvalidInput, match="outside the project"):
        store_path(root, "single", state, odb, jobs=1)
    assert not list(odb.oids())  # nothing from outside reached the cache


def test_storing_refuses_a_folder_link_leading_out(
    root: Path, outside: Path, odb: ObjectStore, state: StateCache
) -> None:
    os.symlink(outside, root / "data")
    with pytest.raises(InvalidInput, match="outside the project"):
        store_path(root, "data", state, odb, jobs=1)


def test_links_inside_the_project_are_followed(
    root: Path, odb: ObjectStore, state: StateCache
) -> None:
    make_tree(root, {"real/a.txt": "a", "data/b.txt": "b"})
    os.symlink(root / "real" / "a.txt", root / "data" / "a.txt")
    built, _ = store_path(root, "data", state, odb, jobs=1)
    assert built.nfiles == 2


def test_hashing_alone_may_follow_a_link_out(root: Path, outside: Path, state: StateCache) -> None:
    os.symlink(outside, root / "deps")  # a stage may read a dataset mounted elsewhere
    assert build_object(root, "deps", state).nfiles == 2


def _folder_object(root: Path, odb: ObjectStore, state: StateCache) -> str:
    make_tree(root, {"src/sub/secret.txt": "from the cache", "src/keep.txt": "cached"})
    built, _ = store_path(root, "src", state, odb, jobs=1)
    return built.oid


@pytest.mark.parametrize("link", ["data", "data/sub", "parent"])
def test_checkout_never_writes_through_a_link_out(
    root: Path, outside: Path, odb: ObjectStore, state: StateCache, link: str
) -> None:
    oid = _folder_object(root, odb, state)
    (root / "data").mkdir()
    target = "data"
    if link == "parent":
        os.symlink(outside, root / "parent")
        target = "parent/data"
    else:
        if link == "data":
            (root / "data").rmdir()
        os.symlink(outside, root / link)
    before = {p.name: p.read_text() for p in outside.iterdir() if p.is_file()}
    with pytest.raises(InvalidInput, match="never writes outside the project"):
        materialize(root, target, oid, odb, state, link_types=("copy",), relink=True)
    assert {p.name: p.read_text() for p in outside.iterdir() if p.is_file()} == before
    assert not (outside / "sub").exists()


def test_checkout_replaces_a_file_link_instead_of_writing_through_it(
    root: Path, outside: Path, odb: ObjectStore, state: StateCache
) -> None:
    make_tree(root, {"f.txt": "cached"})
    built, _ = store_path(root, "f.txt", state, odb, jobs=1)
    (root / "f.txt").unlink()
    os.symlink(outside / "keep.txt", root / "f.txt")
    materialize(root, "f.txt", built.oid, odb, state, link_types=("copy",))
    assert not (root / "f.txt").is_symlink()
    assert (root / "f.txt").read_text() == "cached"
    assert (outside / "keep.txt").read_text() == "untouched"


def test_a_dangling_link_where_a_folder_goes_is_replaced_by_the_folder(
    root: Path, outside: Path, odb: ObjectStore, state: StateCache
) -> None:
    oid = _folder_object(root, odb, state)
    os.symlink(outside / "nowhere", root / "data")
    materialize(root, "data", oid, odb, state, link_types=("copy",))
    assert not (root / "data").is_symlink()
    assert (root / "data" / "sub" / "secret.txt").read_text() == "from the cache"
    assert not (outside / "nowhere").exists()
