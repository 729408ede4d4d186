"""``repro`` with real stage commands: what runs, what is skipped, restored, locked, recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopline.core.errors import CommandFailed, Conflict, InvalidInput, NotFound
from loopline.data.workspace import Workspace
from loopline.pipeline import LocalExecutor, commit, read_lock, repro, stage_status
from tests.conftest import make_tree

THREE_STAGES = """
stages:
  prep:
    cmd: tr a-z A-Z < raw.txt > clean.txt && echo prep >> runs.log
    deps: [raw.txt]
    outs: [clean.txt]
  feat:
    cmd: wc -c < clean.txt > feat.txt && echo feat >> runs.log
    deps: [clean.txt]
    outs: [feat.txt]
  train:
    cmd:
      - cat feat.txt > model.txt
      - "echo '{\\"acc\\": ${train.acc}}' > metrics.json && echo train >> runs.log"
    deps: [feat.txt]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.json: {cache: false}
"""


def _runs(root: Path) -> list[str]:
    path = root / "runs.log"
    lines = path.read_text().split() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


def _repro(root: Path, *targets: str, **kwargs: Any) -> Any:
    kwargs.setdefault("record", False)
    return repro(root, list(targets), **kwargs)


@pytest.fixture
def pipeline(project: Path) -> Path:
    make_tree(
        project,
        {
            "dvc.yaml": THREE_STAGES,
            "params.yaml": "train: {lr: 0.1, acc: 0.9}\n",
            "raw.txt": "hello\n",
        },
    )
    return project


def test_first_run_then_no_op_then_only_what_changed(pipeline: Path) -> None:
    result = _repro(pipeline)
    assert result.by_action("ran") == ["prep", "feat", "train"]
    assert _runs(pipeline) == ["prep", "feat", "train"]
    assert (pipeline / "clean.txt").read_text() == "HELLO\n"
    lock = read_lock(pipeline / "loopline.lock")
    assert lock["train"].params == {"params.yaml": {"train.lr": 0.1}}
    assert {o.path: o.cache for o in lock["train"].outs} == {
        "metrics.json": False,
        "model.txt": True,
    }
    assert set((pipeline / ".gitignore").read_text().split()) == {
        "/clean.txt",
        "/feat.txt",
        "/model.txt",
    }

    assert _repro(pipeline).by_action("unchanged") == ["prep", "feat", "train"]
    assert _runs(pipeline) == []

    (pipeline / "params.yaml").write_text("train: {lr: 0.2, acc: 0.9}\n")
    assert _repro(pipeline).by_action("ran") == ["train"]
    assert _runs(pipeline) == ["train"]


def test_untracked_param_and_interpolated_value(pipeline: Path) -> None:
    _repro(pipeline)
    _runs(pipeline)
    (pipeline / "params.yaml").write_text("train: {lr: 0.1, acc: 0.9}\nother: 5\n")
    assert _repro(pipeline).by_action("ran") == []  # an unused key changes nothing
    (pipeline / "params.yaml").write_text("train: {lr: 0.1, acc: 0.95}\n")
    with Workspace(pipeline) as ws:
        assert [c.as_json() for c in stage_status(ws)] == [["changed command"]]
    assert _repro(pipeline).by_action("ran") == ["train"]
    assert json.loads((pipeline / "metrics.json").read_text()) == {"acc": 0.95}


def test_early_cut_off_when_upstream_writes_the_same_bytes(pipeline: Path) -> None:
    _repro(pipeline)
    _runs(pipeline)
    (pipeline / "raw.txt").write_text("HELLO\n")  # upper-cases to the same clean.txt
    result = _repro(pipeline)
    assert result.by_action("ran") == ["prep"]
    assert result.by_action("unchanged") == ["feat", "train"]


def test_run_cache_restores_instead_of_running(pipeline: Path) -> None:
    _repro(pipeline)
    (pipeline / "raw.txt").write_text("other text\n")
    _repro(pipeline)
    _runs(pipeline)
    (pipeline / "raw.txt").write_text("hello\n")
    result = _repro(pipeline)
    assert result.by_action("restored") == ["prep", "feat", "train"]
    assert _runs(pipeline) == []
    assert (pipeline / "clean.txt").read_text() == "HELLO\n"
    (pipeline / "model.txt").unlink()
    (pipeline / "metrics.json").unlink()  # cache: false outs come back too
    assert _repro(pipeline).by_action("restored") == ["train"]
    assert json.loads((pipeline / "metrics.json").read_text()) == {"acc": 0.9}


def test_a_hand_edited_out_is_not_replaced_until_committed_or_forced(pipeline: Path) -> None:
    _repro(pipeline)
    (pipeline / "model.txt").write_text("tuned by hand\n")
    with pytest.raises(Conflict) as caught:  # the run cache holds these exact inputs
        _repro(pipeline)
    assert "model.txt, an output of stage 'train', was changed" in str(caught.value)
    assert "`loopline commit train`" in str(caught.value)
    assert "`loopline repro --force -s train`" in str(caught.value)
    (pipeline / "raw.txt").write_text("new data\n")  # a stage that must run is refused too
    with pytest.raises(Conflict):
        _repro(pipeline)
    assert (pipeline / "model.txt").read_text() == "tuned by hand\n"
    assert _repro(pipeline, dry=True).by_action("would run") == ["prep", "feat", "train"]

    (pipeline / "raw.txt").write_text("hello\n")
    (pipeline / "params.yaml").write_text("train: {lr: 0.2, acc: 0.9}\n")
    with pytest.raises(Conflict, match="committing would record outputs that its command"):
        commit(pipeline, ["train"])  # its params changed: the edit was not made from them
    (pipeline / "params.yaml").write_text("train: {lr: 0.1, acc: 0.9}\n")
    assert commit(pipeline, ["dvc.yaml:train"]).stages == ["train"]
    assert _repro(pipeline).by_action("unchanged") == ["prep", "feat", "train"]
    assert (pipeline / "model.txt").read_text() == "tuned by hand\n"

    (pipeline / "model.txt").write_text("another edit\n")
    _runs(pipeline)
    assert _repro(pipeline, "train", force=True, single=True).by_action("ran") == ["train"]
    assert (pipeline / "model.txt").read_text() == "6\n"


def test_an_edit_whose_content_is_saved_may_be_replaced(pipeline: Path) -> None:
    _repro(pipeline)
    (pipeline / "raw.txt").write_text("other\n")
    _repro(pipeline)
    (pipeline / "clean.txt").write_text("HELLO\n")  # the earlier version, in the cache
    assert _repro(pipeline).by_action("restored") == ["prep"]
    assert (pipeline / "clean.txt").read_text() == "OTHER\n"


def test_force_single_item_and_dry(pipeline: Path) -> None:
    _repro(pipeline)
    _runs(pipeline)
    assert _repro(pipeline, "feat", force=True).by_action("ran") == ["prep", "feat"]
    assert _repro(pipeline, "feat", force=True, single=True).by_action("ran") == ["feat"]
    _runs(pipeline)
    (pipeline / "raw.txt").write_text("changed\n")
    before = (pipeline / "loopline.lock").read_bytes()
    dry = _repro(pipeline, dry=True)
    assert dry.by_action("would run") == ["prep", "feat", "train"]
    assert _runs(pipeline) == [] and (pipeline / "loopline.lock").read_bytes() == before


def test_failing_command_keeps_lock_of_that_stage_and_finished_ones(pipeline: Path) -> None:
    _repro(pipeline)
    (pipeline / "raw.txt").write_text("v2\n")
    (pipeline / "dvc.yaml").write_text(
        THREE_STAGES.replace("wc -c < clean.txt", "echo boom && exit 3 && wc -c < clean.txt")
    )
    old_feat = read_lock(pipeline / "loopline.lock")["feat"]
    with pytest.raises(
        CommandFailed, match=r"stage 'feat' failed: the command exited with code 3"
    ) as info:
        _repro(pipeline)
    assert "boom" in info.value.log_tail
    lock = read_lock(pipeline / "loopline.lock")
    assert lock["feat"] == old_feat  # unchanged for the failed stage
    assert lock["prep"].deps[0].oid != old_feat.deps[0].oid  # prep finished and is recorded
    assert "train" in lock


def test_a_command_that_does_not_write_its_out_fails(project: Path) -> None:
    make_tree(project, {"dvc.yaml": "stages:\n  a: {cmd: 'true', outs: [never.txt]}\n"})
    with pytest.raises(CommandFailed, match=r"did not write its output never.txt"):
        _repro(project)
    assert not (project / "loopline.lock").exists()


def test_missing_dep_and_missing_param_stop_before_anything_runs(project: Path) -> None:
    make_tree(
        project, {"dvc.yaml": "stages:\n  a: {cmd: 'touch a', deps: [nope.csv], outs: [a]}\n"}
    )
    with pytest.raises(NotFound, match=r"depends on nope.csv, which does not exist and no stage"):
        _repro(project)
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  a: {cmd: 'touch a', params: [model.depth], outs: [a]}\n",
            "params.yaml": "model: {lr: 1}\n",
        },
    )
    with pytest.raises(NotFound, match=r"param 'model.depth', which params.yaml does not define"):
        _repro(project)
    assert not (project / "a").exists()


def test_persist_frozen_and_always_changed(project: Path) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": """
stages:
  hist:
    cmd: echo run >> hist.txt
    outs: [{hist.txt: {persist: true}}]
  fresh:
    cmd: echo run >> fresh.txt
    outs: [fresh.txt]
    always_changed: true
  frozen:
    cmd: echo x > f.txt
    outs: [f.txt]
    frozen: true
""",
            "f.txt": "kept\n",
        },
    )
    first = _repro(project)
    assert first.by_action("frozen") == ["frozen"]
    _repro(project, "hist", force=True)
    _repro(project)
    assert (project / "hist.txt").read_text() == "run\nrun\n"  # persisted between runs
    assert (project / "fresh.txt").read_text() == "run\n"  # deleted before each run
    assert _repro(project).by_action("ran") == ["fresh"]
    assert (project / "f.txt").read_text() == "kept\n"
    (project / "f.txt").unlink()
    with pytest.raises(NotFound, match=r"'frozen' is frozen, but its output f.txt is missing") as e:
        _repro(project)
    assert e.value.hint == "set 'frozen: false' to run it again"  # the lock has no copy of it


def test_parallel_jobs_run_independent_stages_together(project: Path) -> None:
    stages = "\n".join(
        f"  s{i}:\n    cmd: sleep 0.4 && echo {i} > o{i}.txt\n    outs: [o{i}.txt]"
        for i in range(4)
    )
    make_tree(project, {"dvc.yaml": "stages:\n" + stages + "\n"})
    import time

    start = time.perf_counter()
    result = _repro(project, executor=LocalExecutor(4))
    assert sorted(result.by_action("ran")) == ["s0", "s1", "s2", "s3"]
    assert time.perf_counter() - start < 1.4  # four 0.4 s stages at once, not one by one


def test_each_execution_is_a_child_run_of_one_pipeline_run(pipeline: Path) -> None:
    from loopline.tracking.client import TrackingClient

    result = repro(pipeline)
    client = TrackingClient(f"sqlite:///{pipeline / '.loopline' / 'store.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    assert experiment is not None
    runs, _ = client.search_runs([experiment.experiment_id])
    children = {r.info.run_name: r for r in runs if r.info.run_id != result.run_id}
    assert set(children) == {"prep", "feat", "train"}
    train = children["train"]
    assert train.data.tags["mlflow.parentRunId"] == result.run_id
    assert train.data.params == {"train.lr": "0.1"}
    assert train.data.metrics["acc"] == 0.9 and "duration_s" in train.data.metrics
    assert (
        train.data.tags["loopline.out.model.txt"]
        == read_lock(pipeline / "loopline.lock")["train"].outs[1].oid
    )
    assert [d.path for d in train.inputs] == ["feat.txt"]
    assert client.get_run(result.run_id).info.status == "FINISHED"


def test_an_out_through_a_symlink_out_of_the_project_is_never_deleted(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me\n")
    (project / "ext").symlink_to(outside)
    make_tree(
        project,
        {"dvc.yaml": "stages:\n  a: {cmd: echo x > ext/victim.txt, outs: [ext/victim.txt]}\n"},
    )
    with pytest.raises(InvalidInput, match=r"output of stage 'a' ext/victim.txt: it leads through"):
        _repro(project)
    assert (outside / "victim.txt").read_text() == "keep me\n"
    assert "a" not in read_lock(project / "loopline.lock")


def test_a_stage_task_refuses_to_clean_an_out_through_a_symlink(tmp_path: Path) -> None:
    from loopline.pipeline._task import StageTask, run_stage_task

    outside, root = tmp_path / "outside", tmp_path / "proj"
    outside.mkdir()
    root.mkdir()
    (outside / "victim.txt").write_text("keep me\n")
    (root / "ext").symlink_to(outside)
    task = StageTask(
        "a", str(root), ("true",), clean=("ext/victim.txt",), outs=(("ext/victim.txt", True),)
    )
    outcome = run_stage_task(task)
    assert outcome.exit_code == 1 and "outside the project" in outcome.log_tail
    assert (outside / "victim.txt").read_text() == "keep me\n"


def test_commit_of_stages_that_never_ran_needs_force_and_feeds_the_run_cache(
    pipeline: Path,
) -> None:
    from loopline.pipeline._run_cache import RunCache

    _repro(pipeline)
    _runs(pipeline)
    recorded = read_lock(pipeline / "loopline.lock")
    (pipeline / "loopline.lock").unlink()  # as if the commands had been run by hand
    with Workspace(pipeline) as ws:
        cache = RunCache(ws.paths.objects_dir)
        for key in list(cache.keys()):
            cache.remove(key)
    with pytest.raises(Conflict, match="has never run") as refused:
        commit(pipeline)
    assert refused.value.hint is not None and "`loopline commit -f" in refused.value.hint
    assert not (pipeline / "loopline.lock").exists()

    result = commit(pipeline, force=True)
    assert result.stages == ["prep", "feat", "train"] and "loopline.lock" in result.git_files
    assert read_lock(pipeline / "loopline.lock") == recorded
    assert len(list(cache.keys())) == 3  # a hit later restores instead of running
    assert _repro(pipeline).by_action("unchanged") == ["prep", "feat", "train"]
    assert _runs(pipeline) == []


def test_commit_writes_nothing_when_an_out_leads_out_of_the_project(
    project: Path, tmp_path: Path
) -> None:
    from loopline.core.errors import LooplineError

    outside = tmp_path / "outdir"
    outside.mkdir()
    (project / "lnk").symlink_to(outside)
    (outside / "o.txt").write_text("x\n")
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  b: {cmd: echo b > b.txt, outs: [b.txt]}\n"
            "  a: {cmd: echo x > lnk/o.txt, outs: [lnk/o.txt]}\n",
            "b.txt": "b\n",
        },
    )
    with pytest.raises(LooplineError, match="outside the project"):
        commit(project, force=True)
    assert sorted(p.name for p in outside.iterdir()) == ["o.txt"]  # no .gitignore out there
    assert not (project / ".gitignore").exists() and not (project / "loopline.lock").exists()


def test_commit_of_a_stage_without_deps_that_never_ran_needs_force(project: Path) -> None:
    make_tree(
        project, {"dvc.yaml": "stages:\n  c: {cmd: echo c > c.txt, outs: [c.txt]}\n", "c.txt": "c"}
    )
    with pytest.raises(Conflict, match="stage 'c' has never run"):
        commit(project, ["c"])
    assert not (project / "loopline.lock").exists()
    assert commit(project, ["c"], force=True).stages == ["c"]


def test_commit_and_repro_point_the_same_way_when_a_param_and_an_out_changed(
    pipeline: Path,
) -> None:
    _repro(pipeline)
    (pipeline / "params.yaml").write_text("train: {lr: 0.5, acc: 0.9}\n")
    (pipeline / "model.txt").write_text("tuned by hand\n")
    with pytest.raises(Conflict) as committed:
        commit(pipeline, ["train"])
    hint = str(committed.value.hint)
    assert "`loopline repro --force -s train`" in hint and "`loopline repro train`" not in hint
    assert "`loopline commit -f train`" in hint
    with pytest.raises(Conflict) as reproduced:
        _repro(pipeline, "train")
    assert "`loopline repro --force -s train`" in str(reproduced.value.hint)
    assert _repro(pipeline, "train", force=True, single=True).by_action("ran") == ["train"]
    assert (pipeline / "model.txt").read_text() != "tuned by hand\n"
