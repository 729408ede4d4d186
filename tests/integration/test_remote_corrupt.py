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
