"""A read-only HTTP remote: a folder remote published by a plain web server."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loopline.core.hashing import hash_file
from tests.conftest import git, make_tree, run_cli


@dataclass
class WebServer:
    url: str
    folder: Path
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


class _QuietHandler(SimpleHTTPRequestHandler):
    server_log: list[tuple[str, str]]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server_log.append((self.command, self.path))


@pytest.fixture
def folder_remote(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    return folder


@pytest.fixture
def web(folder_remote: Path) -> Iterator[WebServer]:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``folder_remote`` (GET and HEAD only)."""
    served = WebServer(url="", folder=folder_remote)
    handler = type("Handler", (_QuietHandler,), {"server_log": served.requests})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder_remote))
    )
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def published(project: Path, folder_remote: Path, web: WebServer) -> dict[str, bytes]:
    """Data added, pushed to the folder the web server publishes, and committed with a 'web'
    remote in the project's configuration."""
    files = {
        **{f"data/part-{i:02d}.jsonl": f'{{"row": {i}}}\n'.encode() * (i + 1) for i in range(40)},
        "data/nested/deep/readme.md": b"# data\n",
        "model.bin": os.urandom(2 * 1024 * 1024),
    }
    make_tree(project, files)
    steps = [
        ("add", "data", "model.bin"),
        ("remote", "add", "-d", "store", str(folder_remote)),
        ("push",),
        ("remote", "add", "web", web.url),
    ]
    for args in steps:
        result = run_cli(*args, cwd=project)
        assert result.exit_code == 0, f"{args}: {result.output}"
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "data, pushed")
    return files


def test_pull_from_the_http_remote_in_a_fresh_clone(
    project: Path, tmp_path: Path, web: WebServer, published: dict[str, bytes]
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    assert not (clone / "model.bin").exists()
    web.requests.clear()

    pulled = run_cli("pull", "-r", "web", cwd=clone)

    assert pulled.exit_code == 0, pulled.output
    objects = _files_in(web.folder) - {p for p in _files_in(web.folder) if p.startswith("tmp")}
    assert f"{len(objects)} objects fetched from 'web'" in pulled.stdout
    assert {(clone / rel).read_bytes() == data for rel, data in published.items()} == {True}
    served = {path.lstrip("/") for method, path in web.requests if method == "GET"}
    assert objects <= served, "some objects did not come over HTTP"
    status = run_cli("status", cwd=clone)
    assert status.exit_code == 0, status.output
    assert "Data is up to date." in status.stdout
    assert git(clone, "status", "--porcelain") == ""


def test_pull_of_an_object_the_web_server_does_not_have_names_it(
    project: Path, tmp_path: Path, web: WebServer, published: dict[str, bytes]
) -> None:
    lost = hash_file(project / "data/part-07.jsonl")
    (web.folder / lost[:2] / lost[2:]).unlink()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))

    pulled = run_cli("pull", "-r", "web", cwd=clone)

    assert pulled.exit_code == 3, pulled.output
    assert lost in pulled.stderr
    assert "'web'" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert not (clone / ".loopline" / "objects" / lost[:2] / lost[2:]).exists()


def _push_something_new(project: Path, web: WebServer) -> tuple[int, str, set[str]]:
    make_tree(project, {"extra.csv": "a,b\n1,2\n"})
    assert run_cli("add", "extra.csv", cwd=project).exit_code == 0
    before = _files_in(web.folder)
    pushed = run_cli("push", "-r", "web", cwd=project)
    assert _files_in(web.folder) == before, "a read-only remote was written to"
    return pushed.exit_code, pushed.stderr, before


def test_push_to_the_http_remote_fails_and_writes_nothing(
    project: Path, web: WebServer, published: dict[str, bytes]
) -> None:
    exit_code, stderr, _ = _push_something_new(project, web)

    assert exit_code == 6, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "'web'" in errors[0]


def test_push_to_the_http_remote_says_it_is_read_only(
    project: Path, web: WebServer, published: dict[str, bytes]
) -> None:
    exit_code, stderr, _ = _push_something_new(project, web)

    assert exit_code == 6, stderr
    assert "read-only" in stderr
    assert "reachable" not in stderr  # the remote answered; it refused the write
