"""remove, move, commit, fetch and the history flags of push/pull/fetch, driven as a user would."""

from __future__ import annotations

import shutil
from pathlib import Path

from loopline.core.hashing import hash_bytes
from tests.conftest import git, make_tree, run_cli


def _cached(project: Path, content: bytes) -> bool:
    oid = hash_bytes(content)
    return (project / ".loopline" / "objects" / oid[:2] / oid[2:]).is_file()


def _history(project: Path, remote: Path) -> None:
    """v1 and v2 on main, v3 only on a branch; the workspace is back on main at v2."""
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    make_tree(project, {"d.txt": "v1"})
    run_cli("add", "d.txt")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    git(project, "tag", "-a", "first", "-m", "first")
    (project / "d.txt").write_text("v2")
    run_cli("add", "d.txt")
    git(project, "commit", "-qam", "v2")
    git(project, "checkout", "-qb", "side")
    (project / "d.txt").write_text("v3")
    run_cli("add", "d.txt")
    git(project, "commit", "-qam", "v3")
    git(project, "checkout", "-q", "main")
    assert run_cli("checkout", "-f").exit_code == 0


def test_push_covers_branches_tags_or_every_commit_when_asked(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    _history(project, remote)

    def on_remote(content: bytes) -> bool:
        oid = hash_bytes(content)
        return (remote / oid[:2] / oid[2:]).is_file()

    assert run_cli("push").exit_code == 0
    assert on_remote(b"v2") and not on_remote(b"v1") and not on_remote(b"v3")
    assert run_cli("push", "-a").exit_code == 0
    assert on_remote(b"v3") and not on_remote(b"v1")
    assert run_cli("push", "-T").exit_code == 0
    assert on_remote(b"v1")


def test_fetch_fills_the_cache_without_touching_the_workspace(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    _history(project, remote)
    assert run_cli("push", "--all-commits").exit_code == 0
    shutil.rmtree(project / ".loopline" / "objects")
    (project / "d.txt").unlink()

    fetched = run_cli("fetch")
    assert fetched.exit_code == 0, fetched.output
    assert "1 objects fetched from 'store'" in fetched.stdout
    assert not (project / "d.txt").exists()
    assert _cached(project, b"v2") and not _cached(project, b"v1")

    assert run_cli("pull", "-A").exit_code == 0
    assert (project / "d.txt").read_text() == "v2"
    assert _cached(project, b"v1") and _cached(project, b"v3")
    shutil.rmtree(remote)  # everything is local now: an old version checks out offline
    git(project, "checkout", "-q", "first", "--", "d.txt.loopline")
    assert run_cli("checkout").exit_code == 0
    assert (project / "d.txt").read_text() == "v1"


def test_history_flags_outside_git_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "nogit"
    root.mkdir()
    assert run_cli("init", str(root)).exit_code == 0
    run_cli("remote", "add", "-d", "r", str(tmp_path / "r"), cwd=root)
    result = run_cli("push", "-A", cwd=root)
    assert result.exit_code == 2
    assert "not a git repository" in result.stderr and "Traceback" not in result.stderr


def test_remove_untracks_and_keeps_the_data_unless_asked(project: Path) -> None:
    make_tree(project, {"data/a.csv": "1", "data/keep.txt": "k", "sub/b.bin": "b"})
    (project / "sub" / ".gitignore").write_text("*.tmp\n")
    assert run_cli("add", "data", "sub/b.bin").exit_code == 0

    result = run_cli("remove", "data.loopline")
    assert result.exit_code == 0, result.output
    assert not (project / "data.loopline").exists()
    assert (project / "data" / "a.csv").read_text() == "1"  # the data stays
    assert not (project / ".gitignore").exists()  # it held only /data

    (project / "sub" / "b.bin").write_text("edited, not added")
    refused = run_cli("remove", "--outs", "sub/b.bin")
    assert refused.exit_code == 4 and "not saved in the cache" in refused.stderr
    assert (project / "sub" / "b.bin.loopline").exists()
    run_cli("checkout", "-f", "sub/b.bin")
    gone = run_cli("remove", "--outs", "sub/b.bin")
    assert gone.exit_code == 0, gone.output
    assert not (project / "sub" / "b.bin").exists()
    assert not (project / "sub" / "b.bin.loopline").exists()
    assert (project / "sub" / ".gitignore").read_text() == "*.tmp\n"  # other lines kept


def test_remove_refuses_untracked_outside_and_symlinked_paths(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, {"x.txt": "precious", "x.txt.loopline": "not ours"})
    (project / "link").symlink_to(outside)
    cases = [
        (["remove", "nothing"], 3, "not tracked"),
        (["remove", str(outside / "x.txt")], 2, "outside the project"),
        (["remove", "--outs", "link/x.txt"], 2, "symlinked folder"),
    ]
    for args, code, text in cases:
        result = run_cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert text in result.stderr and "Traceback" not in result.stderr
    assert (outside / "x.txt").read_text() == "precious"
    assert (outside / "x.txt.loopline").exists()


PIPELINE = """
stages:
  prepare:
    cmd: >-
      python3 -c "open('clean.csv','w').write(open('raw.csv').read().upper());
      open('ran','a').write('x')"
    deps: [raw.csv]
    outs: [clean.csv]
"""


def test_commit_records_a_stage_run_by_hand_so_repro_skips_it(project: Path) -> None:
    make_tree(project, {"dvc.yaml": PIPELINE, "raw.csv": "a,b\n"})
    (project / "clean.csv").write_text("A,B\n")  # the user ran the command by hand

    refused = run_cli("commit")
    assert refused.exit_code == 4, refused.output
    assert "prepare" in refused.stderr and "commit -f" in refused.stderr
    assert not (project / "loopline.lock").exists()

    done = run_cli("commit", "-f", "dvc.yaml:prepare")
    assert done.exit_code == 0, done.output
    assert "Committed stage 'prepare'" in done.stdout
    assert _cached(project, b"A,B\n")
    assert "/clean.csv" in (project / ".gitignore").read_text()
    assert run_cli("status", "--json").stdout.strip() == "{}"
    ran = run_cli("repro")
    assert ran.exit_code == 0, ran.output
    assert not (project / "ran").exists()  # not re-run
    assert run_cli("commit").stdout.startswith("Nothing to commit")


def test_commit_records_edited_tracked_data(project: Path) -> None:
    make_tree(project, {"d/a.txt": "one"})
    run_cli("add", "d")
    (project / "d" / "a.txt").write_text("two")
    done = run_cli("commit", "d.loopline", "--json")
    assert done.exit_code == 0, done.output
    assert '"d.loopline"' in done.stdout
    assert _cached(project, b"two")
    assert run_cli("status", "--json").stdout.strip() == "{}"
    missing = run_cli("commit", "nope.txt")
    assert missing.exit_code == 3 and "not tracked" in missing.stderr


def test_move_renames_data_pointer_and_gitignore_lines(project: Path) -> None:
    make_tree(project, {"data/raw/a.csv": "1", "data/raw/b.csv": "2", "data/.gitignore": "x\n"})
    run_cli("add", "data/raw")
    (project / "archive").mkdir()
    result = run_cli("move", "data/raw", "archive")  # into an existing folder, like mv
    assert result.exit_code == 0, result.output
    assert (project / "archive" / "raw" / "a.csv").read_text() == "1"
    assert not (project / "data" / "raw").exists()
    assert not (project / "data" / "raw.loopline").exists()
    assert "path: raw" in (project / "archive" / "raw.loopline").read_text()
    assert (project / "data" / ".gitignore").read_text() == "x\n"
    assert (project / "archive" / ".gitignore").read_text() == "/raw\n"
    assert run_cli("status", "--json").stdout.strip() == "{}"

    make_tree(project, {"other.csv": "o"})
    run_cli("add", "other.csv")
    clash = run_cli("move", "other.csv", "archive/raw")
    assert clash.exit_code == 4 and "already exists" in clash.stderr
    assert (project / "other.csv").read_text() == "o"


def test_move_interrupted_after_the_rename_finishes_when_run_again(project: Path) -> None:
    make_tree(project, {"d/f.txt": "keep me"})
    run_cli("add", "d")
    (project / "d").rename(project / "e")  # what a kill right after the rename leaves
    result = run_cli("move", "d", "e")
    assert result.exit_code == 0, result.output
    assert (project / "e" / "f.txt").read_text() == "keep me"
    assert not (project / "e" / "d").exists()
    assert (project / "e.loopline").exists() and not (project / "d.loopline").exists()
    assert run_cli("status", "--json").stdout.strip() == "{}"


TWO_STAGES = """\
# the whole pipeline
stages:
  prepare:  # makes clean.csv
    cmd: python3 -c "open('clean.csv','w').write('C')"
    outs: [clean.csv]

  # trains the model
  train:
    cmd: python3 -c "open('model.bin','w').write(open('clean.csv').read())"
    deps: [clean.csv]
    outs: [model.bin]
"""


def test_remove_a_stage_keeps_the_rest_of_the_pipeline_file_as_written(project: Path) -> None:
    make_tree(project, {"dvc.yaml": TWO_STAGES})
    assert run_cli("repro").exit_code == 0
    result = run_cli("remove", "prepare")
    assert result.exit_code == 0, result.output
    assert (project / "dvc.yaml").read_text() == TWO_STAGES.replace(
        "  prepare:  # makes clean.csv\n"
        "    cmd: python3 -c \"open('clean.csv','w').write('C')\"\n"
        "    outs: [clean.csv]\n\n",
        "",
    )
    lock = (project / "loopline.lock").read_text()
    assert "prepare" not in lock and "train" in lock
    assert (project / "clean.csv").read_text() == "C"  # outputs stay without --outs
    assert "/clean.csv" not in (project / ".gitignore").read_text()

    gone = run_cli("remove", "--outs", "dvc.yaml:train")
    assert gone.exit_code == 0, gone.output
    assert not (project / "model.bin").exists()
    assert (project / "dvc.yaml").read_text() == "# the whole pipeline\nstages: {}\n"
    assert run_cli("remove", "nosuch").exit_code == 3


def test_history_data_that_was_never_stored_is_counted_not_fatal(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    _history(project, remote)
    oid = hash_bytes(b"v1")
    obj = project / ".loopline" / "objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.unlink()  # v1 was never kept here

    pushed = run_cli("push", "-A")
    assert pushed.exit_code == 0, pushed.output
    assert "1 objects of other revisions are not in the local cache" in pushed.stdout
    shutil.rmtree(project / ".loopline" / "objects")
    fetched = run_cli("fetch", "-A")
    assert fetched.exit_code == 0, fetched.output
    assert "1 objects of other revisions are not on the remote" in fetched.stdout
    assert _cached(project, b"v2") and _cached(project, b"v3")

    (project / "d.txt").write_text("v4")
    run_cli("add", "d.txt")
    obj = project / ".loopline" / "objects" / hash_bytes(b"v4")[:2] / hash_bytes(b"v4")[2:]
    obj.chmod(0o644)
    obj.unlink()
    refused = run_cli("push", "-A")  # the workspace's own data must be complete
    assert refused.exit_code == 3 and "missing from the local cache" in refused.stderr


def test_gc_keeps_what_branches_or_tags_reference_when_asked(project: Path, tmp_path: Path) -> None:
    _history(project, tmp_path / "remote")  # v1 tagged, v2 on main, v3 on a branch
    assert run_cli("gc", "-f", "-a").exit_code == 0
    assert _cached(project, b"v2") and _cached(project, b"v3") and not _cached(project, b"v1")
    assert run_cli("gc", "-f", "-T").exit_code == 0  # tags and HEAD: v3 lives only on a branch
    assert _cached(project, b"v2") and not _cached(project, b"v3")


def test_checkout_a_stage_restores_its_outputs_only(project: Path) -> None:
    make_tree(project, {"dvc.yaml": TWO_STAGES})
    assert run_cli("repro").exit_code == 0
    (project / "clean.csv").unlink()
    (project / "model.bin").unlink()
    result = run_cli("checkout", "train")
    assert result.exit_code == 0, result.output
    assert (project / "model.bin").read_text() == "C"
    assert not (project / "clean.csv").exists()
    assert run_cli("checkout", "dvc.yaml:prepare").exit_code == 0
    assert (project / "clean.csv").read_text() == "C"


def test_data_verbs_survive_repeated_targets_and_a_broken_pipeline_file(project: Path) -> None:
    make_tree(project, {"d.txt": "one", "dvc.yaml": "stages: [broken\n"})
    run_cli("add", "d.txt")
    (project / "d.txt").write_text("two")
    done = run_cli("commit", "d.txt")
    assert done.exit_code == 0, done.output
    assert _cached(project, b"two")
    twice = run_cli("remove", "d.txt", "d.txt.loopline")
    assert twice.exit_code == 0, twice.output
    assert not (project / "d.txt.loopline").exists() and (project / "d.txt").exists()


def test_a_stage_target_with_history_flags_covers_its_outputs_in_other_commits(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    assert run_cli("remote", "add", "-d", "store", str(remote)).exit_code == 0
    stage = (
        "stages:\n  make:\n    cmd: python3 -c \"open('o.txt','w').write(open('i.txt').read())\"\n"
    )
    make_tree(project, {"dvc.yaml": stage + "    deps: [i.txt]\n    outs: [o.txt]\n"})
    make_tree(project, {"i.txt": "old", "other.txt": "other"})
    assert run_cli("add", "other.txt").exit_code == 0
    assert run_cli("repro").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "old")
    (project / "i.txt").write_text("new")
    assert run_cli("repro").exit_code == 0
    git(project, "commit", "-qam", "new")

    def on_remote(content: bytes) -> bool:
        oid = hash_bytes(content)
        return (remote / oid[:2] / oid[2:]).is_file()

    pushed = run_cli("push", "--verify", "-A", "make")
    assert pushed.exit_code == 0, pushed.output
    assert on_remote(b"new") and on_remote(b"old")  # the stage's output in both commits
    assert not on_remote(b"other")  # not named
    shutil.rmtree(project / ".loopline" / "objects")
    fetched = run_cli("fetch", "-A", "dvc.yaml:make")
    assert fetched.exit_code == 0, fetched.output
    assert _cached(project, b"new") and _cached(project, b"old")


def test_move_refuses_what_add_refuses_at_either_end(project: Path) -> None:
    make_tree(project, {"b.txt": "data"})
    assert run_cli("add", "b.txt").exit_code == 0
    for dst in ("dvc.yaml", "loopline.lock", "e/.gitignore", ".loopline/x", "c.txt.loopline/x"):
        moved = run_cli("move", "b.txt", dst)
        assert moved.exit_code != 0, dst
        assert "Traceback" not in moved.output
        assert (project / "b.txt").read_text() == "data"
    assert not (project / "dvc.yaml").exists()
    assert "dvc.yaml" not in (project / ".gitignore").read_text()
    make_tree(project, {"dvc.yaml": "stages: {}\n"})
    # A pointer forged for a file git owns cannot move it either.
    (project / "dvc.yaml.loopline").write_text(
        (project / "b.txt.loopline").read_text().replace("path: b.txt", "path: dvc.yaml")
    )
    moved = run_cli("move", "dvc.yaml", "e/.gitignore")
    assert moved.exit_code != 0
    assert (project / "dvc.yaml").read_text() == "stages: {}\n"
    assert not (project / "e" / ".gitignore").exists()
