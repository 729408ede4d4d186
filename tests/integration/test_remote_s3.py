"""Push and pull against a real S3 server (SeaweedFS), configured through the real CLI."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopline.core.hashing import hash_file
from loopline.objects.manifest import DIR_SUFFIX
from tests.conftest import make_tree, run_cli
from tests.integration.conftest import (
    ACCESS_KEY,
    DIGITS_ACCESS_KEY,
    DIGITS_SECRET_KEY,
    SECRET_KEY,
    S3Server,
    free_ports,
)

pytestmark = pytest.mark.s3

N_SMALL = 300  # more than Remote._EXISTS_ONE_BY_ONE, so "what is already there" is a listing
BIG_SIZE = 5 * 1024 * 1024
N_OBJECTS = N_SMALL + 2  # the small files, their folder's manifest, the big file
_OBJECT_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{62}(\.dir)?$")


@dataclass
class S3Project:
    root: Path
    server: S3Server
    prefix: str
    fs: Any

    @property
    def remote_root(self) -> str:
        return f"{self.server.bucket}/{self.prefix}"

    def remote_keys(self) -> set[str]:
        """Every key under the remote's prefix, relative to it."""
        self.fs.invalidate_cache()
        start = len(self.remote_root) + 1
        return {path[start:] for path in self.fs.find(self.remote_root)}

    def remote_object(self, oid: str) -> str:
        return f"{self.remote_root}/{oid[:2]}/{oid[2:]}"


def _configure_remote(
    root: Path,
    server: S3Server,
    prefix: str,
    endpoint: str,
    *,
    key: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
) -> None:
    """What a user types to point a project at an S3-compatible store."""
    steps = [
        ("remote", "add", "-d", "s3store", f"s3://{server.bucket}/{prefix}"),
        ("remote", "modify", "s3store", "endpoint_url", endpoint),
        ("remote", "modify", "s3store", "key", key, "--local"),
        ("remote", "modify", "s3store", "secret", secret, "--local"),
    ]
    for args in steps:
        result = run_cli(*args, cwd=root)
        assert result.exit_code == 0, result.output


@pytest.fixture
def s3_project(project: Path, seaweed_s3: S3Server) -> S3Project:
    prefix = f"prefix-{uuid.uuid4().hex[:12]}"  # one bucket per session, one prefix per test
    _configure_remote(project, seaweed_s3, prefix, seaweed_s3.endpoint_url)
    return S3Project(project, seaweed_s3, prefix, seaweed_s3.filesystem())


def _make_data(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        f"images/part-{i // 100}/img-{i:04d}.txt": f"image {i}\n".encode() * (1 + i % 7)
        for i in range(N_SMALL)
    }
    files["big.bin"] = os.urandom(BIG_SIZE)
    make_tree(root, files)
    result = run_cli("add", "images", "big.bin", cwd=root)
    assert result.exit_code == 0, result.output
    return files


def _workspace_bytes(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in files if (root / rel).is_file()}


def _cache_objects(root: Path) -> dict[str, Path]:
    objects = root / ".loopline" / "objects"
    found = {}
    for shard in objects.iterdir():
        if len(shard.name) == 2 and shard.is_dir():
            for path in shard.iterdir():
                found[shard.name + path.name] = path
    return found


def _assert_cache_intact(root: Path) -> None:
    for oid, path in _cache_objects(root).items():
        actual = hash_file(path) + (DIR_SUFFIX if oid.endswith(DIR_SUFFIX) else "")
        assert actual == oid, f"{path} holds bytes that hash to {actual}"


def _forget_local_data(root: Path) -> None:
    shutil.rmtree(root / ".loopline" / "objects")
    shutil.rmtree(root / "images")
    (root / "big.bin").unlink()


def test_push_uploads_every_object_under_the_prefix_and_a_second_push_sends_nothing(
    s3_project: S3Project,
) -> None:
    files = _make_data(s3_project.root)
    local = _cache_objects(s3_project.root)
    assert len(local) == N_OBJECTS

    first = run_cli("push", cwd=s3_project.root)

    assert first.exit_code == 0, first.output
    assert f"{N_OBJECTS} objects pushed to 's3store' (0 already there)" in first.stdout
    keys = s3_project.remote_keys()
    assert all(_OBJECT_KEY.match(key) for key in keys), sorted(keys)[:5]
    assert {key.replace("/", "", 1) for key in keys} == set(local)
    big_oid = hash_file(s3_project.root / "big.bin")
    assert s3_project.fs.cat(s3_project.remote_object(big_oid)) == files["big.bin"]

    second = run_cli("push", cwd=s3_project.root)

    assert second.exit_code == 0, second.output
    assert f"0 objects pushed to 's3store' ({N_OBJECTS} already there)" in second.stdout


def test_pull_into_an_empty_cache_restores_identical_bytes(s3_project: S3Project) -> None:
    files = _make_data(s3_project.root)
    pushed = run_cli("push", cwd=s3_project.root)
    assert pushed.exit_code == 0, pushed.output
    _forget_local_data(s3_project.root)

    pulled = run_cli("pull", cwd=s3_project.root)

    assert pulled.exit_code == 0, pulled.output
    assert f"{N_OBJECTS} objects fetched from 's3store'" in pulled.stdout
    assert _workspace_bytes(s3_project.root, files) == files
    assert len(_cache_objects(s3_project.root)) == N_OBJECTS
    _assert_cache_intact(s3_project.root)
    status = run_cli("status", cwd=s3_project.root)
    assert status.exit_code == 0, status.output
    assert "Data is up to date." in status.stdout


def test_pull_refuses_an_object_corrupted_on_the_remote(s3_project: S3Project) -> None:
    files = _make_data(s3_project.root)
    pushed = run_cli("push", cwd=s3_project.root)
    assert pushed.exit_code == 0, pushed.output
    victim = "images/part-1/img-0142.txt"
    bad_oid = hash_file(s3_project.root / victim)
    s3_project.fs.pipe(s3_project.remote_object(bad_oid), b"flipped bits, same key\n")
    # The user lost the cache and the folder, but still has big.bin in the workspace.
    shutil.rmtree(s3_project.root / ".loopline" / "objects")
    shutil.rmtree(s3_project.root / "images")
    pointers_before = {
        p.name: p.read_bytes() for p in s3_project.root.glob("*.loopline") if p.is_file()
    }

    pulled = run_cli("pull", cwd=s3_project.root)

    assert pulled.exit_code == 5, pulled.output
    assert bad_oid in pulled.stderr
    assert "corrupt" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert bad_oid not in _cache_objects(s3_project.root)
    _assert_cache_intact(s3_project.root)
    assert (s3_project.root / "big.bin").read_bytes() == files["big.bin"]
    assert not (s3_project.root / victim).exists()
    pointers_after = {
        p.name: p.read_bytes() for p in s3_project.root.glob("*.loopline") if p.is_file()
    }
    assert pointers_after == pointers_before

    # Once the remote copy is repaired, the same command finishes the job.
    s3_project.fs.pipe(s3_project.remote_object(bad_oid), files[victim])
    again = run_cli("pull", cwd=s3_project.root)
    assert again.exit_code == 0, again.output
    assert _workspace_bytes(s3_project.root, files) == files
    assert "Data is up to date." in run_cli("status", cwd=s3_project.root).stdout


def test_push_to_an_unreachable_endpoint_fails_fast_with_one_clear_line(
    project: Path, seaweed_s3: S3Server
) -> None:
    closed_port = free_ports(1)[0]  # nothing listens there
    _configure_remote(project, seaweed_s3, "unreachable", f"http://127.0.0.1:{closed_port}")
    make_tree(project, {"data/a.txt": "a\n", "data/b.txt": "b\n", "model.bin": b"\0" * 1000})
    assert run_cli("add", "data", "model.bin", cwd=project).exit_code == 0

    started = time.monotonic()
    pushed = run_cli("push", cwd=project)
    elapsed = time.monotonic() - started

    assert pushed.exit_code == 6, pushed.output
    assert elapsed < 30, f"push took {elapsed:.1f} s to give up"
    assert "Traceback" not in pushed.stderr
    errors = [line for line in pushed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, pushed.stderr
    assert "'s3store'" in errors[0]
    assert len(pushed.stderr.strip().splitlines()) <= 2, pushed.stderr  # error + hint

    # Pulling needs the remote only for what the cache lacks; with an empty cache it fails too.
    shutil.rmtree(project / ".loopline" / "objects")
    started = time.monotonic()
    pulled = run_cli("pull", cwd=project)
    assert pulled.exit_code == 6, pulled.output
    assert time.monotonic() - started < 30
    assert "'s3store'" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert (project / "model.bin").read_bytes() == b"\0" * 1000
    assert (project / "data" / "a.txt").read_text() == "a\n"


def _add_one_file(root: Path) -> str:
    make_tree(root, {"metrics.json": '{"auc": 0.91}\n'})
    added = run_cli("add", "metrics.json", cwd=root)
    assert added.exit_code == 0, added.output
    return hash_file(root / "metrics.json")


def test_remote_list_shows_the_endpoint_but_not_the_credentials(s3_project: S3Project) -> None:
    listed = run_cli("remote", "list", "--json", cwd=s3_project.root)

    assert listed.exit_code == 0, listed.output
    assert s3_project.server.endpoint_url in listed.stdout
    assert '"key": "***"' in listed.stdout
    assert '"secret": "***"' in listed.stdout
    assert '"secret": "any"' not in listed.stdout
    local = (s3_project.root / ".loopline" / "config.local.yaml").read_text()
    assert "secret" not in (s3_project.root / ".loopline" / "config.yaml").read_text()
    assert "secret: any" in local


def test_a_wrong_secret_is_refused_with_exit_6_naming_the_remote(
    project: Path, seaweed_s3: S3Server
) -> None:
    prefix = f"denied-{uuid.uuid4().hex[:8]}"
    _configure_remote(project, seaweed_s3, prefix, seaweed_s3.endpoint_url, secret="wrong")
    _add_one_file(project)

    pushed = run_cli("push", cwd=project)

    assert pushed.exit_code == 6, pushed.output
    assert "Traceback" not in pushed.stderr
    errors = [line for line in pushed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "'s3store'" in errors[0], pushed.stderr
    assert "credentials" in pushed.stderr
    assert seaweed_s3.filesystem().find(f"{seaweed_s3.bucket}/{prefix}") == []


def test_a_secret_made_of_digits_is_used_exactly_as_typed(
    project: Path, seaweed_s3: S3Server
) -> None:
    prefix = f"digits-{uuid.uuid4().hex[:8]}"
    _configure_remote(
        project,
        seaweed_s3,
        prefix,
        seaweed_s3.endpoint_url,
        key=DIGITS_ACCESS_KEY,
        secret=DIGITS_SECRET_KEY,
    )
    oid = _add_one_file(project)

    pushed = run_cli("push", cwd=project)

    assert pushed.exit_code == 0, pushed.output
    remote_object = f"{seaweed_s3.bucket}/{prefix}/{oid[:2]}/{oid[2:]}"
    assert seaweed_s3.filesystem().cat(remote_object) == b'{"auc": 0.91}\n'
