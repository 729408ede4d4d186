"""A cache object changed after it was stored is noticed by its stat, re-hashed, quarantined."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopline.objects.odb as odb_module
from loopline.core.errors import IntegrityError
from loopline.core.hashing import hash_bytes
from loopline.objects.odb import ObjectStore
from loopline.objects.state import StateCache


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateCache]:
    with StateCache(tmp_path / "state.db") as cache:
        yield cache


def _rehashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = odb_module.hash_file

    def counting(path: Path, *args: int) -> str:
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(odb_module, "hash_file", counting)
    return calls


def test_an_unchanged_object_costs_a_stat_not_a_hash(
    tmp_path: Path, state: StateCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid = hash_bytes(b"payload")
    ObjectStore(tmp_path / "objects", ledger=state).add_bytes(b"payload", oid)
    calls = _rehashes(monkeypatch)
    fresh = ObjectStore(tmp_path / "objects", ledger=state)  # a later command
    assert fresh.find_corrupt([oid]) == []
    assert calls == []


def test_a_changed_object_is_rehashed_quarantined_and_refused(
    tmp_path: Path, state: StateCache
) -> None:
    odb = ObjectStore(tmp_path / "objects", ledger=state)
    oid = hash_bytes(b"payload")
    odb.add_bytes(b"payload", oid)
    path = odb.path(oid)
    path.chmod(0o644)
    path.write_bytes(b"paylaod")  # same size, new bytes
    later = ObjectStore(tmp_path / "objects", ledger=state)
    assert later.find_corrupt([oid], quarantine=False) == [oid]
    assert path.exists()  # reported only
    with pytest.raises(IntegrityError, match="corrupt"):
        later.require_intact([oid], "data.bin")
    assert not path.exists()
    assert [p.name.split(".")[0] for p in later.quarantine_dir.iterdir()] == [oid]


def test_an_object_with_no_record_is_rehashed_once(
    tmp_path: Path, state: StateCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid = hash_bytes(b"old cache")
    ObjectStore(tmp_path / "objects").add_bytes(b"old cache", oid)  # stored without a ledger
    calls = _rehashes(monkeypatch)
    odb = ObjectStore(tmp_path / "objects", ledger=state)
    assert odb.find_corrupt([oid]) == []
    assert ObjectStore(tmp_path / "objects", ledger=state).find_corrupt([oid]) == []
    assert len(calls) == 1
    os.utime(odb.path(oid), ns=(1, 1))  # a touched object is checked again
    assert odb.find_corrupt([oid]) == [] and len(calls) == 2


def test_a_hardlink_checkout_does_not_make_the_next_command_rehash(
    tmp_path: Path, state: StateCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopline.objects.checkout import materialize

    oid = hash_bytes(b"payload")
    ObjectStore(tmp_path / "objects", ledger=state).add_bytes(b"payload", oid)
    ws = tmp_path / "ws"
    ws.mkdir()
    checking_out = ObjectStore(tmp_path / "objects", ledger=state)
    materialize(ws, "a.bin", oid, checking_out, state, link_types=("hardlink", "copy"))
    assert (ws / "a.bin").stat().st_ino == checking_out.path(oid).stat().st_ino
    calls = _rehashes(monkeypatch)
    later = ObjectStore(tmp_path / "objects", ledger=state)
    assert later.find_corrupt([oid]) == []
    assert calls == []  # the new link changed the ctime, and that was recorded


def test_an_edit_with_the_mtime_put_back_is_rehashed(tmp_path: Path, state: StateCache) -> None:
    odb = ObjectStore(tmp_path / "objects", ledger=state)
    oid = hash_bytes(b"payload")
    odb.add_bytes(b"payload", oid)
    path = odb.path(oid)
    before = path.stat()
    path.chmod(0o644)
    with open(path, "r+b") as handle:
        handle.write(b"P")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    path.chmod(0o444)
    later = ObjectStore(tmp_path / "objects", ledger=state)
    assert later.find_corrupt([oid], quarantine=False) == [oid]
