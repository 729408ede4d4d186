"""Stages as tasks on a real Dask cluster: on a shared filesystem, and through a remote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopline.core.config import RemoteConfig
from loopline.objects.odb import ObjectStore
from loopline.pipeline import DaskExecutor, read_lock, repro
from tests.conftest import make_tree

distributed = pytest.importorskip("distributed")

PIPELINE = """
stages:
  split:
    foreach: [a, b]
    do:
      cmd: mkdir -p parts && echo ${item}-$(cat raw.txt) > parts/${item}.txt
      deps: [raw.txt]
      outs: ["parts/${item}.txt"]
  join:
    cmd: cat parts/a.txt parts/b.txt > joined.txt && hostname > host.txt
    deps: [parts]
    params: [seed]
    outs: [joined.txt, {host.txt: {cache: false}}]
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    ) as running:
        yield running


@pytest.fixture
def pipeline(project: Path) -> Path:
    make_tree(project, {"dvc.yaml": PIPELINE, "params.yaml": "seed: 1\n", "raw.txt": "x\n"})
    return project


def test_stages_run_on_the_cluster_sharing_the_filesystem(pipeline: Path, cluster: Any) -> None:
    executor = DaskExecutor(cluster.scheduler_address)
    try:
        assert executor.slots == 2
        result = repro(pipeline, executor=executor, record=False)
    finally:
        executor.close()
    assert sorted(result.by_action("ran")) == ["join", "split@a", "split@b"]
    assert (pipeline / "joined.txt").read_text() == "a-x\nb-x\n"
    assert set(read_lock(pipeline / "loopline.lock")) == {"split@a", "split@b", "join"}
    assert repro(pipeline, record=False).by_action("unchanged") == ["split@a", "split@b", "join"]


def test_workers_take_deps_from_and_put_outs_into_the_remote(
    pipeline: Path, cluster: Any, tmp_path: Path
) -> None:
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    executor = DaskExecutor(
        cluster.scheduler_address, remote=RemoteConfig("storage", str(remote_dir))
    )
    try:
        result = repro(pipeline, executor=executor)
    finally:
        executor.close()
    assert sorted(result.by_action("ran")) == ["join", "split@a", "split@b"]
    assert (pipeline / "joined.txt").read_text() == "a-x\nb-x\n"
    lock = read_lock(pipeline / "loopline.lock")
    remote = ObjectStore(remote_dir)
    for entry in lock.values():
        for out in entry.outs:
            assert remote.exists(out.oid), out.path  # the worker pushed it
    assert remote.exists(lock["join"].deps[0].oid)  # the folder dep travelled as an object
    # the next run sees the outs the workers wrote as its own: nothing to do
    assert repro(pipeline, record=False).by_action("unchanged") == ["split@a", "split@b", "join"]


def test_a_failing_stage_on_a_worker_reports_its_output(pipeline: Path, cluster: Any) -> None:
    from loopline.core.errors import CommandFailed

    (pipeline / "dvc.yaml").write_text(PIPELINE.replace("hostname > host.txt", "exit 4"))
    executor = DaskExecutor(cluster.scheduler_address)
    try:
        with pytest.raises(CommandFailed, match=r"stage 'join' failed.*code 4"):
            repro(pipeline, executor=executor, record=False)
    finally:
        executor.close()
    assert set(read_lock(pipeline / "loopline.lock")) == {"split@a", "split@b"}


def test_the_cli_sends_stages_to_a_scheduler(pipeline: Path, cluster: Any) -> None:
    from tests.conftest import run_cli

    result = run_cli("repro", "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert "Stage 'join' finished" in result.stdout
    assert (pipeline / "joined.txt").read_text() == "a-x\nb-x\n"


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from loopline.core.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtra, match="distributed") as info:
        DaskExecutor()
    assert "loopline[dask]" in (info.value.hint or "")


@pytest.mark.slow
def test_a_local_cluster_is_started_for_the_run(pipeline: Path) -> None:
    executor = DaskExecutor()
    try:
        result = repro(pipeline, executor=executor, record=False)
    finally:
        executor.close()
    assert len(result.by_action("ran")) == 3
