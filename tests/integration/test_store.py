"""The metadata store on both engines: SQLite (embedded) and the PostgreSQL server on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from loopline.core.errors import ConfigError, StoreError
from loopline.store import (
    DamagedStore,
    DataVersion,
    list_data_versions,
    open_store,
    record_data_versions,
    record_data_versions_at,
)
from loopline.store._engine import make_engine
from loopline.store._migrate import run_alembic_upgrade
from loopline.store._schema import HEAD_REVISION


def test_new_store_records_and_lists_versions(store_url: str) -> None:
    store = open_store(store_url)
    try:
        v1 = DataVersion("data/raw", "a" * 64 + ".dir", 100, 3, "c" * 40)
        v2 = DataVersion("data/raw", "b" * 64 + ".dir", 120, 4, None)
        assert record_data_versions(store, [v1]) == 1
        assert record_data_versions(store, [v1, v2]) == 1  # v1 is not recorded twice
        listed = list_data_versions(store, "data/raw")
        assert [v.oid for v in listed] == [v2.oid, v1.oid]
        assert listed[1].git_commit == "c" * 40
        assert list_data_versions(store, "other") == []
    finally:
        store.close()


def test_reopening_keeps_data_and_schema(store_url: str) -> None:
    store = open_store(store_url)
    record_data_versions(store, [DataVersion("m", "a" * 64, 1, None)])
    store.close()
    again = open_store(store_url)
    try:
        assert len(list_data_versions(again)) == 1
    finally:
        again.close()


def test_alembic_migrations_build_the_same_schema_as_a_fresh_store(
    store_url: str, tmp_path: Path
) -> None:
    """Replaying the migrations must give what ``create_all`` gives a new store."""
    fresh = open_store(store_url)
    fresh_columns = _columns(fresh.engine)
    fresh.close()
    migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = make_engine(migrated_url)
    run_alembic_upgrade(engine)
    assert _columns(engine) == fresh_columns
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            == HEAD_REVISION
        )
    engine.dispose()


def _columns(engine: object) -> dict[str, list[tuple[str, bool]]]:
    inspector = inspect(engine)
    return {
        table: sorted((c["name"], bool(c["nullable"])) for c in inspector.get_columns(table))
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _writer(url: str, worker: int, count: int) -> None:
    store = open_store(url)
    for i in range(count):
        record_data_versions(store, [DataVersion(f"w{worker}", f"{worker:02d}{i:062d}", i, None)])
    store.close()


def test_eight_processes_writing_at_once_lose_nothing(store_url: str) -> None:
    open_store(store_url).close()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(store_url, w, 40)) for w in range(8)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0] * 8
    store = open_store(store_url)
    try:
        assert len(list_data_versions(store)) == 8 * 40
    finally:
        store.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE customers (id INTEGER)").connection.commit()
    with pytest.raises(StoreError, match="no Loopline schema"):
        open_store(f"sqlite:///{path}")


def test_bad_urls_are_explained() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        open_store("nonsense")
    with pytest.raises(ConfigError, match="unsupported database"):
        open_store("mysql://u@127.0.0.1/db")


@pytest.mark.postgres
def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open the metadata store"):
        open_store("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")


def test_an_older_store_is_upgraded_in_place_keeping_its_data(store_url: str) -> None:
    """A store created by an earlier Loopline (revision 0001) opens with today's schema."""
    from sqlalchemy import text

    engine = make_engine(store_url)
    run_alembic_upgrade(engine, "0001_data_versions")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO data_versions (path, oid, size, nfiles, git_commit, recorded_at) "
                "VALUES ('data', :oid, 5, 1, NULL, 1.0)"
            ),
            {"oid": "a" * 64 + ".dir"},
        )
    engine.dispose()
    store = open_store(store_url)
    try:
        with store.engine.connect() as conn:
            assert (
                conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                == HEAD_REVISION
            )
        assert [v.path for v in list_data_versions(store)] == ["data"]
        assert "runs" in inspect(store.engine).get_table_names()
    finally:
        store.close()


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)


def _truncated(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x10\x00\x02\x02" + b"\xff" * 300)


def _broken_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for offset in range(page_size, len(data), page_size):
        data[offset : offset + 64] = b"\xa5" * 64  # every page header after the first
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _truncated, _broken_pages])
def test_a_damaged_sqlite_file_says_what_is_damaged_and_how_to_recover(
    tmp_path: Path, damage: Any
) -> None:
    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    record_data_versions(store, [DataVersion(f"d{i}", f"oid{i}", 1, None) for i in range(500)])
    store.close()
    damage(path)
    with pytest.raises(DamagedStore) as caught:
        store = open_store(f"sqlite:///{path}")
        try:
            list_data_versions(store)
        finally:
            store.close()
    error = caught.value
    assert isinstance(error, StoreError) and error.exit_code == 7
    assert str(path) in error.message and "is damaged" in error.message
    assert error.hint is not None and f"mv {path} {path}.damaged" in error.hint
    assert "backup" in error.hint


def test_recording_versions_in_a_damaged_store_warns_once_and_does_not_fail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "store.db"
    _garbage(path)
    recorded = record_data_versions_at(f"sqlite:///{path}", [DataVersion("data", "abc", 1, None)])
    assert recorded is False
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "version was not recorded for data" in warnings[0] and "is damaged" in warnings[0]
    assert path.read_bytes() == bytes(range(256)) * 20  # the damaged file is left for recovery


def test_add_with_a_damaged_store_tracks_the_data_and_warns_once(project: Path) -> None:
    from tests.conftest import run_cli

    store = project / ".loopline" / "store.db"
    _garbage(store)
    (project / "prices.csv").write_text("a,b\n1,2\n")
    added = run_cli("add", "prices.csv", cwd=project)
    assert added.exit_code == 0, added.output
    assert "Added prices.csv" in added.stdout
    assert (project / "prices.csv.loopline").is_file()
    assert "prices.csv" in (project / ".gitignore").read_text()
    assert added.stderr.count("is damaged") == 1
    assert "version was not recorded for prices.csv" in added.stderr
    assert "Traceback" not in added.output and "sqlalche" not in added.output
    status = run_cli("status", cwd=project)
    assert status.exit_code == 0, status.output
    versions = run_cli("versions", cwd=project)
    assert versions.exit_code == 7
    assert f"the metadata store {store} is damaged" in versions.stderr
    store.rename(store.with_name("store.db.damaged"))  # the recovery the hint gives
    readded = run_cli("add", "prices.csv", cwd=project)
    assert readded.exit_code == 0 and readded.stderr == ""
    listed = run_cli("versions", "prices.csv", cwd=project)
    assert listed.exit_code == 0 and "prices.csv" in listed.stdout


def test_repro_with_a_damaged_store_runs_and_names_the_cause(project: Path) -> None:
    from tests.conftest import run_cli

    _garbage(project / ".loopline" / "store.db")
    (project / "dvc.yaml").write_text(
        "stages:\n  hello:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n"
    )
    done = run_cli("repro", cwd=project)
    assert done.exit_code == 0, done.output
    assert (project / "out.txt").read_text() == "hi\n"
    assert "tracking runs were not fully recorded" in done.stderr
    assert "store.db is damaged (file is not a database)" in done.stderr
    assert "DamagedStore" not in done.stderr


def test_recording_versions_with_a_misconfigured_store_warns_with_the_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorded = record_data_versions_at("mysql://u@127.0.0.1/db", [DataVersion("d", "a", 1, None)])
    assert recorded is False
    assert "unsupported database 'mysql'" in caplog.text


def test_a_store_locked_by_another_process_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "check that the server runs": the file is there, someone else holds its lock."""
    import sqlite3
    import time

    import loopline.store._engine as engine_module

    path = tmp_path / "store.db"
    monkeypatch.setattr(engine_module, "_BUSY_TIMEOUT_MS", 300)  # not a minute in a test
    store = open_store(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as caught:
            open_store(f"sqlite:///{path}")
        assert "another process" in caught.value.message
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (x INTEGER)"))
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waited < 1.5  # one full wait for the lock, not eight of them
    assert "locked" in caught.value.message and "another process" in caught.value.message
    assert "server" not in str(caught.value)


def test_a_directory_named_like_the_store_is_named_as_one(tmp_path: Path) -> None:
    (tmp_path / "store.db").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path / 'store.db'}")
