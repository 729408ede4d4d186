"""Stale stages and why; pipeline outs as tracked data for checkout, gc; compare with git."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.errors import InvalidInput
from loopline.data.checkout import checkout
from loopline.data.gc import gc
from loopline.data.workspace import Workspace
from loopline.pipeline import (
    kfp_stages,
    metrics_diff,
    metrics_show,
    params_diff,
    read_lock,
    repro,
    stage_status,
    stage_status_as_json,
)
from tests.conftest import git, make_tree

PIPELINE = """
stages:
  prep:
    cmd: cp in.txt mid.txt
    deps: [in.txt]
    outs: [mid.txt]
  train:
    cmd: "cp mid.txt out.txt && echo '{\\"acc\\": ${acc}, \\"loss\\": {\\"val\\": 1}}' > m.json"
    deps: [mid.txt]
    params: [lr]
    outs: [out.txt]
    metrics:
      - m.json: {cache: false}
"""


@pytest.fixture
def pipeline(project: Path) -> Path:
    make_tree(project, {"dvc.yaml": PIPELINE, "params.yaml": "lr: 1\nacc: 0.5\n", "in.txt": "a\n"})
    return project


def _status(root: Path) -> dict[str, list[object]]:
    with Workspace(root) as ws:
        return stage_status_as_json(stage_status(ws))


def test_status_before_and_after_changes_speaks_dvcs_json(pipeline: Path) -> None:
    assert _status(pipeline) == {
        "prep": [
            {"changed deps": {"in.txt": "modified"}},
            {"changed outs": {"mid.txt": "deleted"}},
        ],
        "train": [
            {"changed deps": {"mid.txt": "deleted", "params.yaml": "new"}},
            {"changed outs": {"out.txt": "deleted", "m.json": "deleted"}},
        ],
    }
    repro(pipeline, record=False)
    assert _status(pipeline) == {}
    (pipeline / "in.txt").write_text("b\n")
    (pipeline / "params.yaml").write_text("lr: 2\nacc: 0.5\n")
    (pipeline / "out.txt").unlink()
    (pipeline / "dvc.yaml").write_text(PIPELINE.replace("cp in.txt", "cp  in.txt"))
    assert _status(pipeline) == {
        "prep": [{"changed deps": {"in.txt": "modified"}}, "changed command"],
        "train": [
            {"changed deps": {"params.yaml": {"lr": "modified"}}},
            {"changed outs": {"out.txt": "deleted"}},
        ],
    }


def test_checkout_restores_pipeline_outs_from_the_lock(pipeline: Path) -> None:
    repro(pipeline, record=False)
    (pipeline / "out.txt").unlink()
    (pipeline / "mid.txt").write_text("edited\n")
    with Workspace(pipeline) as ws:
        done = {r.pointer.path: r.action for r in checkout(ws, force=True)}
    assert done == {"mid.txt": "modified", "out.txt": "added"}
    assert (pipeline / "out.txt").read_text() == "a\n" and (
        pipeline / "mid.txt"
    ).read_text() == "a\n"
    assert _status(pipeline) == {}


def test_gc_keeps_what_the_lock_and_its_run_cache_need(pipeline: Path) -> None:
    repro(pipeline, record=False)
    (pipeline / "in.txt").write_text("version two\n")
    repro(pipeline, record=False)  # the first version is now only in the run cache
    with Workspace(pipeline) as ws:
        result = gc(ws)
        assert result.removed >= 1
        lock = read_lock(pipeline / "loopline.lock")
        for entry in lock.values():
            assert all(ws.odb.exists(o.oid) for o in entry.outs)
    (pipeline / "mid.txt").unlink()
    assert repro(pipeline, record=False).by_action("restored") == ["prep"]  # its entry was kept
    (pipeline / "in.txt").write_text("a\n")
    assert repro(pipeline, record=False).by_action("ran") == ["prep", "train"]  # old one dropped


def test_params_and_metrics_against_a_git_revision(pipeline: Path) -> None:
    repro(pipeline, record=False)
    git(pipeline, "add", "-A")
    git(pipeline, "commit", "-qm", "v1")
    (pipeline / "params.yaml").write_text("lr: 3\nacc: 0.75\n")
    repro(pipeline, record=False)
    assert params_diff(pipeline) == {
        "params.yaml": {
            "lr": {"old": 1, "new": 3, "diff": 2},
            "acc": {"old": 0.5, "new": 0.75, "diff": 0.25},
        }
    }
    assert metrics_show(pipeline) == {
        "": {"data": {"m.json": {"data": {"acc": 0.75, "loss": {"val": 1}}}}}
    }
    assert metrics_diff(pipeline) == {"m.json": {"acc": {"old": 0.5, "new": 0.75, "diff": 0.25}}}
    assert metrics_diff(pipeline, show_all=True)["m.json"]["loss.val"] == {
        "old": 1,
        "new": 1,
        "diff": 0,
    }


def test_kfp_stages_view(pipeline: Path) -> None:
    pytest.importorskip("loopline.pipeline._kfp")
    stages = kfp_stages(pipeline)
    assert [(s.name, s.upstream) for s in stages] == [("prep", ()), ("train", ("prep",))]
    # m.json is a `cache: false` metric: it travels through git, not the remote
    assert stages[1].outs == ("out.txt",) and stages[1].deps == ("mid.txt",)
    assert stages[0].commands == ("cp in.txt mid.txt",) and stages[0].wdir == "."


def test_pipeline_outs_travel_with_push_and_pull(pipeline: Path, tmp_path: Path) -> None:
    import shutil

    from loopline.data.remotes import add_remote
    from loopline.data.transfer import pull, push

    repro(pipeline, record=False)
    add_remote(Workspace(pipeline).paths, "storage", str(tmp_path / "remote"), default=True)
    with Workspace(pipeline) as ws:
        assert push(ws).pushed == 1  # mid.txt and out.txt hold the same bytes; m.json is git's
    shutil.rmtree(pipeline / ".loopline" / "objects")
    (pipeline / "out.txt").unlink()
    with Workspace(pipeline) as ws:
        pulled = pull(ws)
    assert pulled.fetched >= 1 and (pipeline / "out.txt").read_text() == "a\n"


def test_adding_a_stage_output_by_hand_is_refused(pipeline: Path) -> None:
    from loopline.core.errors import InvalidInput
    from loopline.data.add import add

    repro(pipeline, record=False)
    with Workspace(pipeline) as ws, pytest.raises(InvalidInput, match="output of a pipeline stage"):
        add(ws, ["out.txt"])


def test_runs_started_after_repro_name_the_stage_outs_they_read(pipeline: Path) -> None:
    """Lineage: a model trained on a stage's output records that output's content id."""
    from loopline.tracking.inputs import inspect_input

    repro(pipeline, record=False)
    lock = read_lock(pipeline / "loopline.lock")
    data, tracked_oid = inspect_input(pipeline / "mid.txt", root=pipeline)
    assert data.oid == tracked_oid == lock["prep"].outs[0].oid
    assert data.workspace_matches is True


def _damage(root: Path, edit: str) -> None:
    import yaml

    lock = root / "loopline.lock"
    doc = yaml.safe_load(lock.read_text())
    entry = doc["stages"]["prep"]
    field, _, value = edit.partition("=")
    target = entry["outs"][0] if field.startswith("out.") else entry
    target[field.removeprefix("out.")] = yaml.safe_load(value)
    lock.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ("deps=5", r"'deps: 5', not a list of paths"),
        ("outs=mid.txt", r"'outs: 'mid.txt'', not a list"),
        ("params=5", r"malformed 'params'"),
        ("params={p.yaml: 3}", r"malformed 'params'"),
        ("cmd=5", r"no valid 'cmd'"),
        ("cmd=[1, 2]", r"no valid 'cmd'"),
        ("out.size=big", r"malformed entry"),
        ("out.size=true", r"malformed entry"),
        ("out.nfiles=two", r"malformed entry"),
        ("out.isexec=yes please", r"malformed entry"),
        ("out.cache=no thanks", r"malformed entry"),
        ("out.path=[a]", r"malformed entry"),
        ("out.path=../outside/x", r"'../outside/x', which is outside the project"),
        ("out.path=/abs/path", r"'/abs/path', which is absolute"),
        ("out.path=.", r"'.', which is the project root itself"),
        ("out.path=.git/config", r"'.git/config', which is inside .git/"),
        ("out.path=a/../mid.txt", r"which is not a normalised path"),
    ],
)
def test_a_damaged_lock_is_reported_as_such_by_status_and_checkout(
    pipeline: Path, tmp_path: Path, edit: str, why: str
) -> None:
    repro(pipeline, record=False)
    (pipeline / "mid.txt").unlink()
    _damage(pipeline, edit)
    match = rf"lock file loopline.lock is damaged: stage 'prep' .*{why}"
    with pytest.raises(InvalidInput, match=match) as info:
        _status(pipeline)
    assert info.value.hint and "loopline repro" in info.value.hint and "git" in info.value.hint
    with Workspace(pipeline) as ws, pytest.raises(InvalidInput, match=match):
        checkout(ws, force=True)
    assert not (pipeline / "mid.txt").exists() and not (tmp_path / "outside").exists()


def test_a_lock_of_an_unknown_schema_is_refused(pipeline: Path) -> None:
    repro(pipeline, record=False)
    lock = pipeline / "loopline.lock"
    lock.write_text(lock.read_text().replace("schema: '1.0'", "schema: '7.0'"))
    before = lock.read_bytes()
    with pytest.raises(InvalidInput, match=r"loopline.lock has schema '7.0', which this"):
        _status(pipeline)
    with pytest.raises(InvalidInput, match=r"schema '7\.0'"):
        repro(pipeline, force=True, record=False)
    assert lock.read_bytes() == before


def test_checkout_of_a_stage_restores_only_its_outs(pipeline: Path) -> None:
    from loopline.core.errors import Conflict, NotFound

    repro(pipeline, record=False)
    (pipeline / "mid.txt").unlink()
    (pipeline / "out.txt").unlink()
    with Workspace(pipeline) as ws:
        assert [r.pointer.path for r in checkout(ws, ["train"])] == ["out.txt"]
        assert (pipeline / "out.txt").exists() and not (pipeline / "mid.txt").exists()
        assert [r.action for r in checkout(ws, ["dvc.yaml:prep"])] == ["added"]
        assert (pipeline / "mid.txt").read_text() == "a\n"
        with pytest.raises(NotFound, match="stage 'nosuch' is not in the pipeline"):
            checkout(ws, ["dvc.yaml:nosuch"])
        with pytest.raises(NotFound, match="nosuch does not exist and is not tracked"):
            checkout(ws, ["nosuch"])
        (pipeline / "mid.txt").write_text("edited\n")
        with pytest.raises(Conflict) as refused:
            checkout(ws, ["prep"], force=False)
        (pipeline / "mid.txt").unlink()
    assert refused.value.hint is not None
    assert "record the changes in the lock with `loopline commit prep`" in refused.value.hint


def test_checkout_of_a_stage_that_never_ran_says_how_to_run_it(project: Path) -> None:
    from loopline.core.errors import NotFound

    make_tree(project, {"dvc.yaml": "stages:\n  s: {cmd: echo > o.txt, outs: [o.txt]}\n"})
    with Workspace(project) as ws, pytest.raises(NotFound, match="'s' has not run yet") as info:
        checkout(ws, ["s"])
    assert info.value.hint == "run it with `loopline repro s`"
