"""Damaged objects, in the local cache or on a folder remote: never used, never spread, repaired."""

from __future__ import annotations

import os
from pathlib import Path

from loopline.core.hashing import hash_bytes
from tests.conftest import git, make_tree, run_cli


def _flip_one_byte(path: Path) -> None:
    """Bit rot: same size, one byte different."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    path.chmod(0o444)


def _cached(project: Path, content: bytes) -> Path:
    oid = hash_bytes(content)
    return project / ".loopline" / "objects" / oid[:2] / oid[2:]


def test_a_damaged_cache_object_is_never_checked_out(project: Path) -> None:
    make_tree(project, {"model.bin": b"good weights"})
    assert run_cli("add", "model.bin").exit_code == 0
    _flip_one_byte(_cached(project, b"good weights"))
    status = run_cli("status")
    assert "corrupt in cache" in status.stdout, status.output  # not "up to date"
    (project / "model.bin").unlink()
    result = run_cli("checkout")  # cache.verify is false: the stat change is enough
    assert result.exit_code == 5, result.output
    assert "corrupt" in result.stderr and "quarantine" in result.stderr
    assert not (project / "model.bin").exists()  # nothing damaged was written
    assert not _cached(project, b"good weights").exists()
    assert any((project / ".loopline" / "objects" / "quarantine").iterdir())


def test_add_stores_an_intact_copy_over_a_damaged_object(project: Path) -> None:
    make_tree(project, {"d/a.txt": "alpha", "d/b.txt": "beta"})
    assert run_cli("add", "d").exit_code == 0
    _flip_one_byte(_cached(project, b"alpha"))
    assert run_cli("add", "d").exit_code == 0
    assert _cached(project, b"alpha").read_bytes() == b"alpha"
    assert run_cli("status").stdout.strip() == "Data is up to date."


def test_push_never_uploads_a_damaged_object(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    make_tree(project, {"a.bin": b"first", "b.bin": b"second"})
    assert run_cli("add", "a.bin", "b.bin").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    _flip_one_byte(_cached(project, b"first"))
    pushed = run_cli("push")
    assert pushed.exit_code == 5, pushed.output
    assert "corrupt" in pushed.stderr and "not pushed" in pushed.stderr
    oid = hash_bytes(b"first")
    assert not (remote / oid[:2] / oid[2:]).exists()
    second = hash_bytes(b"second")
    assert (remote / second[:2] / second[2:]).read_bytes() == b"second"


def test_push_verify_repairs_a_damaged_remote_copy_and_pull_says_so(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    make_tree(project, {"data.csv": b"x,y\n1,2\n"})
    assert run_cli("add", "data.csv").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    assert run_cli("push").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "data")
    oid = hash_bytes(b"x,y\n1,2\n")
    _flip_one_byte(remote / oid[:2] / oid[2:])

    clone = tmp_path / "clone"
    git(project, "clone", "-q", str(project), str(clone))
    os.makedirs(clone / ".loopline", exist_ok=True)
    pulled = run_cli("pull", "-r", "store", cwd=clone)
    assert pulled.exit_code == 5, pulled.output
    assert "loopline push --verify" in pulled.stderr

    assert "0 objects pushed" in run_cli("push").stdout  # a plain push trusts the remote
    repaired = run_cli("push", "--verify")
    assert repaired.exit_code == 0, repaired.output
    assert "1 damaged remote copies replaced" in repaired.stdout
    assert run_cli("pull", "-r", "store", cwd=clone).exit_code == 0
    assert (clone / "data.csv").read_bytes() == b"x,y\n1,2\n"


def test_pull_replaces_a_damaged_local_copy_in_one_go(project: Path, tmp_path: Path) -> None:
    make_tree(project, {"d/a.txt": "alpha", "d/b.txt": "beta"})
    assert run_cli("add", "d").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(tmp_path / "remote")).exit_code == 0
    assert run_cli("push").exit_code == 0
    _flip_one_byte(_cached(project, b"alpha"))
    (project / "d" / "a.txt").unlink()
    pulled = run_cli("pull")
    assert pulled.exit_code == 0, pulled.output
    assert (project / "d" / "a.txt").read_text() == "alpha"
    assert _cached(project, b"alpha").read_bytes() == b"alpha"


def _flip_one_byte_keeping_mtime(path: Path) -> None:
    """An in-place edit hidden as well as a user can: same size, same inode, mtime put back."""
    before = path.stat()
    _flip_one_byte(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_damaged_object_with_its_mtime_restored_is_still_noticed(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    make_tree(project, {"a.txt": b"precious"})
    assert run_cli("add", "a.txt").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    _flip_one_byte_keeping_mtime(_cached(project, b"precious"))
    (project / "a.txt").unlink()
    checkout = run_cli("checkout")
    assert checkout.exit_code == 5, checkout.output
    assert not (project / "a.txt").exists()
    pushed = run_cli("push")
    assert pushed.exit_code != 0
    oid = hash_bytes(b"precious")
    assert not (remote / oid[:2] / oid[2:]).exists()


def test_push_verify_never_replaces_a_remote_copy_with_a_damaged_local_one(
    project: Path, tmp_path: Path
) -> None:
    from loopline.core.config import RemoteConfig
    from loopline.objects.odb import ObjectStore
    from loopline.objects.remote import Remote
    from loopline.objects.state import StateCache
    from loopline.objects.transfer import push_objects

    remote = tmp_path / "remote"
    make_tree(project, {"a.txt": b"precious"})
    assert run_cli("add", "a.txt").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    assert run_cli("push").exit_code == 0
    oid = hash_bytes(b"precious")
    on_remote = remote / oid[:2] / oid[2:]
    on_remote.chmod(0o644)
    on_remote.write_bytes(b"remote rot")
    local = _cached(project, b"precious")
    _flip_one_byte(local)
    with StateCache(project / ".loopline" / "tmp" / "ledger.db") as ledger:
        st = local.stat()  # a ledger that recorded the damaged bytes' stat as good
        ledger.put_objects([(oid, (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size))])
        odb = ObjectStore(project / ".loopline" / "objects", ledger=ledger)
        result = push_objects(
            odb, Remote(RemoteConfig("store", str(remote))), [oid], jobs=1, verify_remote=True
        )
    assert result.corrupt == [oid] and result.transferred == 0 and result.repaired == 0
    assert on_remote.read_bytes() == b"remote rot"  # not overwritten by the damaged local copy
    assert not local.exists()  # quarantined


def test_add_recovers_when_the_memo_holds_the_hash_of_bytes_that_were_damaged(
    project: Path,
) -> None:
    from loopline.objects.state import FileState, StateCache

    make_tree(project, {"a.txt": b"precious", "d/b.txt": b"inner"})
    assert run_cli("add", "a.txt", "d").exit_code == 0
    oid = hash_bytes(b"precious")
    # What a checkout of a damaged object leaves: damaged bytes, and a memo naming the
    # pointer's id for their stat; the damaged objects themselves went to quarantine.
    _cached(project, b"precious").unlink()
    _cached(project, b"inner").unlink()
    for rel, content in (("a.txt", b"prEcious"), ("d/b.txt", b"innEr")):
        path = project / rel
        path.chmod(0o644)
        path.write_bytes(content)
        st = path.stat()
        with StateCache(project / ".loopline" / "tmp" / "state.db") as memo:
            known = memo.file(rel)
            assert known is not None
            memo.put_files([(rel, FileState(st.st_ino, st.st_mtime_ns, st.st_size, known.hash))])
    readded = run_cli("add", "a.txt", "d")
    assert readded.exit_code == 0, readded.output
    assert hash_bytes(b"prEcious") in (project / "a.txt.loopline").read_text()
    assert oid not in (project / "a.txt.loopline").read_text()
    assert _cached(project, b"innEr").is_file()


def test_quarantining_an_object_forgets_the_files_said_to_hold_it(project: Path) -> None:
    from loopline.objects.odb import ObjectStore
    from loopline.objects.state import StateCache

    make_tree(project, {"a.txt": b"precious"})
    assert run_cli("add", "a.txt").exit_code == 0
    _flip_one_byte(_cached(project, b"precious"))
    with StateCache(project / ".loopline" / "tmp" / "state.db") as memo:
        assert memo.file("a.txt") is not None
        odb = ObjectStore(project / ".loopline" / "objects", ledger=memo)
        assert odb.find_corrupt([hash_bytes(b"precious")]) == [hash_bytes(b"precious")]
        assert memo.file("a.txt") is None


def test_pull_checks_out_what_arrived_intact_and_names_what_did_not(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    make_tree(project, {"a.txt": b"damaged on the remote", "b.txt": b"intact", "d/c.txt": b"c"})
    assert run_cli("add", "a.txt", "b.txt", "d").exit_code == 0
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    assert run_cli("push").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "data")
    oid = hash_bytes(b"damaged on the remote")
    _flip_one_byte(remote / oid[:2] / oid[2:])
    clone = tmp_path / "clone"
    git(project, "clone", "-q", str(project), str(clone))
    os.makedirs(clone / ".loopline", exist_ok=True)
    pulled = run_cli("pull", "-r", "store", cwd=clone)
    assert pulled.exit_code == 5, pulled.output
    assert oid in pulled.stderr and "a.txt" in pulled.stderr
    assert "loopline push --verify" in pulled.stderr
    assert not (clone / "a.txt").exists()
    assert (clone / "b.txt").read_bytes() == b"intact"
    assert (clone / "d" / "c.txt").read_bytes() == b"c"
