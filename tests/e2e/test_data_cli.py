"""Data versioning as a user drives it: the real ``loopline`` executable in a real git project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopline.core.hashing import hash_bytes
from tests.conftest import git, make_tree, run_cli


def _no_traceback(result: object) -> None:
    assert "Traceback" not in getattr(result, "stderr", "")


def test_add_status_modify_checkout_cycle(project: Path) -> None:
    make_tree(
        project, {"data/a.csv": "x,y\n1,2\n", "data/b/c.csv": "z\n3\n", "model.bin": b"\x00\x01"}
    )
    result = run_cli("add", "data", "model.bin")
    assert result.exit_code == 0, result.output
    pointer = (project / "data.loopline").read_text()
    assert "oid:" in pointer and ".dir" in pointer and "nfiles: 2" in pointer
    assert set((project / ".gitignore").read_text().split()) == {"/data", "/model.bin"}

    assert run_cli("status").stdout.strip() == "Data is up to date."
    (project / "data" / "a.csv").write_text("x,y\n9,9\n")
    (project / "model.bin").unlink()
    status = json.loads(run_cli("status", "--json").stdout)
    assert status == {
        "data.loopline": [{"changed outs": {"data": "modified"}}],
        "model.bin.loopline": [{"changed outs": {"model.bin": "deleted"}}],
    }

    refused = run_cli("checkout")
    assert refused.exit_code == 4
    assert "not saved in the cache" in refused.stderr and "data/a.csv" in refused.stderr
    assert (project / "data" / "a.csv").read_text() == "x,y\n9,9\n"  # nothing lost

    run_cli("checkout", "model.bin")  # restoring a deleted file is always safe
    assert (project / "model.bin").read_bytes() == b"\x00\x01"
    forced = run_cli("checkout", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert {r["path"]: r["action"] for r in json.loads(forced.stdout)} == {
        "data": "modified",
        "model.bin": "unchanged",
    }
    assert (project / "data" / "a.csv").read_text() == "x,y\n1,2\n"
    assert run_cli("status", "--json").stdout.strip() == "{}"


def test_checkout_overwrites_changes_that_are_saved_in_the_cache(project: Path) -> None:
    make_tree(project, {"d/f.txt": "v1"})
    run_cli("add", "d")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    (project / "d" / "f.txt").write_text("v2")
    assert run_cli("add", "d").exit_code == 0
    git(project, "checkout", "--", "d.loopline")  # back to v1's pointer
    result = run_cli("checkout")
    assert result.exit_code == 0, result.output
    assert (project / "d" / "f.txt").read_text() == "v1"


def test_corrupt_object_is_detected_named_and_workspace_untouched(project: Path) -> None:
    make_tree(project, {"d/f.txt": "version one"})
    run_cli("add", "d")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    (project / "d" / "f.txt").write_text("version two")
    run_cli("add", "d")
    oid = hash_bytes(b"version one")
    obj = project / ".loopline" / "objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_text("bit rot")
    git(project, "checkout", "--", "d.loopline")
    result = run_cli("checkout", "--verify")
    assert result.exit_code == 5
    assert oid in result.stderr and "corrupt" in result.stderr
    _no_traceback(result)
    assert (project / "d" / "f.txt").read_text() == "version two"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "missing.csv"], 3, "missing.csv does not exist"),
        (["add", "../outside.csv"], 2, "outside the project"),
        (["add", ".loopline/config.yaml"], 2, "Loopline's own folder"),
        (["checkout", "never-added"], 3, "not tracked"),
        (["push"], 3, "no default remote"),
        (["diff", "no-such-rev"], 3, "does not exist"),
        (["remote", "remove", "ghost"], 3, "not configured"),
    ],
)
def test_bad_requests_get_one_clear_line(
    project: Path, args: list[str], code: int, message: str
) -> None:
    result = run_cli(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    _no_traceback(result)


def test_adding_a_pointer_or_something_inside_a_tracked_folder_is_refused(project: Path) -> None:
    make_tree(project, {"data/a.csv": "1"})
    run_cli("add", "data")
    for target, message in (
        ("data.loopline", "is a pointer file"),
        ("data/a.csv", "inside tracked folder"),
    ):
        result = run_cli("add", target)
        assert result.exit_code == 2 and message in result.stderr


def test_pointer_edited_into_nonsense(project: Path) -> None:
    make_tree(project, {"f.csv": "1"})
    run_cli("add", "f.csv")
    (project / "f.csv.loopline").write_text("outs:\n- path: f.csv\n  oid: [oops\n")
    result = run_cli("status")
    assert result.exit_code == 2
    assert "pointer file f.csv.loopline is invalid" in result.stderr
    assert (project / "f.csv").read_text() == "1"


def test_outside_a_project(tmp_path: Path) -> None:
    result = run_cli("status", cwd=tmp_path)
    assert result.exit_code == 3 and "loopline init" in result.stderr


def test_init_is_safe_to_run_twice(tmp_path: Path) -> None:
    assert "Initialized" in run_cli("init", str(tmp_path / "p")).stdout
    again = run_cli("init", str(tmp_path / "p"))
    assert again.exit_code == 0 and "already a Loopline project" in again.stdout
    assert run_cli("init", "-q", str(tmp_path / "q")).stdout == ""


def test_diff_against_git_revision(project: Path) -> None:
    make_tree(project, {"data/keep.csv": "k", "data/change.csv": "old", "data/drop.csv": "d"})
    run_cli("add", "data")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    (project / "data" / "change.csv").write_text("new")
    (project / "data" / "drop.csv").unlink()
    make_tree(project, {"data/new.csv": "n", "other.txt": "o"})
    run_cli("add", "other.txt")
    result = json.loads(run_cli("diff", "--json").stdout)
    assert [e["path"] for e in result["added"]] == ["data/new.csv", "other.txt"]
    assert [e["path"] for e in result["deleted"]] == ["data/drop.csv"]
    assert [e["path"] for e in result["modified"]] == ["data/change.csv"]
    text = run_cli("diff", "HEAD").stdout
    assert "files summary: 2 added, 1 deleted, 1 modified" in text


def test_diff_outside_git(tmp_path: Path) -> None:
    run_cli("init", "-q", str(tmp_path))
    result = run_cli("diff", cwd=tmp_path)
    assert result.exit_code == 2 and "not a git repository" in result.stderr


def test_gc_keeps_what_is_referenced(project: Path) -> None:
    make_tree(project, {"d/f.txt": "v1"})
    run_cli("add", "d")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    (project / "d" / "f.txt").write_text("v2")
    run_cli("add", "d")
    objects = lambda: sum(1 for p in (project / ".loopline" / "objects").glob("??/*"))  # noqa: E731
    assert objects() == 4
    assert run_cli("gc").exit_code == 2  # no -f without a terminal: nothing is deleted
    dry = json.loads(run_cli("gc", "--dry", "--json").stdout)
    assert dry["removed"] == 2 and objects() == 4
    kept = json.loads(run_cli("gc", "-f", "--all-commits", "--json").stdout)
    assert kept["removed"] == 0
    done = json.loads(run_cli("gc", "-f", "--json").stdout)
    assert done["removed"] == 2 and objects() == 2
    assert run_cli("status").stdout.strip() == "Data is up to date."


def test_remote_configuration_commands(project: Path, tmp_path: Path) -> None:
    assert run_cli("remote", "add", "first", str(tmp_path / "r1")).exit_code == 0
    assert run_cli("remote", "add", "first", str(tmp_path / "r2")).exit_code == 4
    assert run_cli("remote", "add", "-d", "second", "s3://bucket/path").exit_code == 0
    assert (
        run_cli("remote", "modify", "second", "endpoint_url", "http://127.0.0.1:9").exit_code == 0
    )
    assert run_cli("remote", "modify", "second", "secret", "shh", "--local").exit_code == 0
    listed = json.loads(run_cli("remote", "list", "--json").stdout)
    assert [(r["name"], r["default"]) for r in listed] == [("first", False), ("second", True)]
    assert listed[1]["options"] == {"endpoint_url": "http://127.0.0.1:9", "secret": "***"}
    assert "shh" not in (project / ".loopline" / "config.yaml").read_text()
    assert run_cli("remote", "default").stdout.strip() == "second"
    assert run_cli("remote", "default", "first").exit_code == 0
    assert run_cli("remote", "remove", "first").exit_code == 0
    assert run_cli("remote", "default").stdout.strip() == "No default remote is set."


def test_versions_lists_every_added_version(project: Path) -> None:
    make_tree(project, {"d/f.txt": "v1"})
    run_cli("add", "d")
    (project / "d" / "f.txt").write_text("v2")
    run_cli("add", "d")
    versions = json.loads(run_cli("versions", "d", "--json").stdout)
    assert (
        len(versions) == 2
        and versions[0]["oid"] == json.loads(run_cli("add", "d", "--json").stdout)[0]["oid"]
    )


def test_hardlink_cache_type_links_the_workspace_to_the_cache(project: Path) -> None:
    make_tree(project, {"d/a.bin": b"abc", "d/b.bin": b"xyz"})
    result = run_cli("--set", "cache.type=hardlink,copy", "add", "d")
    assert result.exit_code == 0, result.output
    obj = project / ".loopline" / "objects" / hash_bytes(b"abc")[:2] / hash_bytes(b"abc")[2:]
    assert (project / "d" / "a.bin").stat().st_ino == obj.stat().st_ino
    assert run_cli("status").stdout.strip() == "Data is up to date."
    assert not any((project / ".loopline" / "tmp" / "scratch").iterdir())


def test_remote_options_keep_credentials_verbatim(project: Path) -> None:
    run_cli("remote", "add", "s3", "s3://b/p")
    run_cli("remote", "modify", "s3", "secret", "0123", "--local")
    run_cli("remote", "modify", "s3", "use_ssl", "false")
    run_cli("remote", "modify", "s3", "max_concurrency", "16")
    local = (project / ".loopline" / "config.local.yaml").read_text()
    shared = (project / ".loopline" / "config.yaml").read_text()
    assert "secret: '0123'" in local
    assert "use_ssl: false" in shared and "max_concurrency: 16" in shared


def test_add_refuses_symlinks_out_and_checkout_never_writes_through_them(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    make_tree(outside, {"secret.txt": "private"})
    (project / "data").mkdir()
    (project / "data" / "l").symlink_to(outside / "secret.txt")
    refused = run_cli("add", "data")
    assert refused.exit_code == 2, refused.output
    assert "outside the project" in refused.stderr and "data/l" in refused.stderr
    (project / "data" / "l").unlink()
    make_tree(project, {"data/a.txt": "mine"})
    assert run_cli("add", "data").exit_code == 0
    (project / "data" / "a.txt").unlink()
    (project / "data").rmdir()
    (project / "data").symlink_to(outside)  # the tracked folder now leads out
    forced = run_cli("checkout", "-f")
    assert forced.exit_code == 2, forced.output
    assert "never writes outside the project" in forced.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    _no_traceback(forced)


@pytest.mark.parametrize(
    "name",
    ["dvc.yaml", "params.yaml", "loopline.lock", "data/.gitignore", "conf/train.yaml", "conf"],
)
def test_add_refuses_files_that_belong_in_git(project: Path, name: str) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  train:\n    cmd: echo hi\n    params:\n"
            "    - conf/train.yaml:\n      - lr\n",
            "params.yaml": "a: 1\n",
            "conf/train.yaml": "lr: 0.1\n",
            "loopline.lock": "schema: '2.0'\nstages: {}\n",
            "data/.gitignore": "/x\n",
        },
    )
    result = run_cli("add", name)
    assert result.exit_code == 2, result.output
    assert "belongs in git" in result.stderr and f"git add {name}" in result.stderr
    assert not (project / (name + ".loopline")).exists()
    assert not (project / ".gitignore").exists()


def test_add_refuses_overlapping_tracking_both_ways(project: Path) -> None:
    make_tree(project, {"data/a/x.txt": "x", "data/b.csv": "b", "data/new.txt": "n"})
    assert run_cli("add", "data/a", "data/b.csv").exit_code == 0
    outer = run_cli("add", "data")
    assert outer.exit_code == 2, outer.output
    assert "data/a.loopline" in outer.stderr and "data/b.csv.loopline" in outer.stderr
    assert "untrack those first" in outer.stderr
    assert not (project / "data.loopline").exists()
    assert not (project / ".gitignore").exists()
    inner = run_cli("add", "data/a/x.txt")
    assert inner.exit_code == 2 and "inside tracked folder data/a" in inner.stderr
    make_tree(project, {"other/y.txt": "y"})
    both = run_cli("add", "other/y.txt", "other")
    assert both.exit_code == 2 and "other/y.txt is inside other" in both.stderr
    assert run_cli("add", "data/new.txt").exit_code == 0  # new files beside them are fine


def test_versions_names_the_commit_that_holds_each_version(project: Path) -> None:
    make_tree(project, {"d/f.txt": "v1"})
    git(project, "commit", "-q", "--allow-empty", "-m", "before any data")
    before = git(project, "rev-parse", "HEAD").strip()
    run_cli("add", "d")
    assert json.loads(run_cli("versions", "d", "--json").stdout)[0]["git_commit"] is None
    assert "uncommitted" in run_cli("versions", "d").stdout
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    v1 = git(project, "rev-parse", "HEAD").strip()
    (project / "d" / "f.txt").write_text("v2")
    run_cli("add", "d")
    git(project, "commit", "-qam", "v2")
    v2 = git(project, "rev-parse", "HEAD").strip()
    versions = json.loads(run_cli("versions", "d.loopline", "--json").stdout)
    assert [v["git_commit"] for v in versions] == [v2, v1]
    assert before not in {v["git_commit"] for v in versions}
    missing = run_cli("versions", "nosuchpath")
    assert missing.exit_code == 3 and "no versions of nosuchpath" in missing.stderr


def test_add_names_the_gitignore_files_that_exist(project: Path) -> None:
    make_tree(project, {"data/raw/a.csv": "a", "model.bin": "m"})
    out = run_cli("add", "data/raw", "model.bin", cwd=project).stdout
    assert "git add data/raw.loopline model.bin.loopline data/.gitignore .gitignore" in out
    git(project, "add", "data/raw.loopline", "model.bin.loopline", "data/.gitignore", ".gitignore")
    (project / "data" / "raw" / "a.csv").write_text("b")
    inside = run_cli("add", "raw", cwd=project / "data").stdout
    assert "git add raw.loopline .gitignore" in inside  # relative to where git will run


def test_a_fresh_clone_status_says_pull_and_diff_without_commits_lists_everything(
    project: Path, tmp_path: Path
) -> None:
    make_tree(project, {"d/a.txt": "a", "f.bin": "f"})
    assert run_cli("add", "d", "f.bin").exit_code == 0
    diffed = run_cli("diff", "--json")
    assert diffed.exit_code == 0, diffed.output
    added = {item["path"] for item in json.loads(diffed.stdout)["added"]}
    assert added == {"d/a.txt", "f.bin"}
    git(project, "add", "-A")
    git(project, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(project, "clone", "-q", str(project), str(clone))
    status = run_cli("status", cwd=clone)
    assert "loopline pull" in status.stdout and "loopline checkout" not in status.stdout
    (project / "f.bin").unlink()
    local = run_cli("status", cwd=project)
    assert "loopline checkout" in local.stdout and "loopline pull" not in local.stdout


def test_checkout_hint_for_a_changed_stage_output_does_not_suggest_add(project: Path) -> None:
    (project / "dvc.yaml").write_text(
        "stages:\n  make:\n    cmd: python -c \"open('out.txt','w').write('built')\"\n"
        "    outs:\n    - out.txt\n"
    )
    assert run_cli("repro").exit_code == 0
    (project / "out.txt").write_text("hand edit")
    refused = run_cli("checkout")
    assert refused.exit_code == 4, refused.output
    assert "output of a pipeline stage" in refused.stderr
    assert "loopline add" not in refused.stderr
    status = run_cli("status", "out.txt")
    assert status.exit_code == 2 and "output of a pipeline stage" in status.stderr
    assert "loopline add" not in status.stderr


def test_gc_on_a_terminal_asks_before_deleting_as_its_help_says(project: Path) -> None:
    import os
    import pty
    import subprocess

    from tests.conftest import LOOPLINE

    make_tree(project, {"f.txt": "v1"})
    run_cli("add", "f.txt")
    (project / "f.txt").write_text("v2")
    run_cli("add", "f.txt")  # v1's object is now unreferenced
    assert "asks for confirmation" in " ".join(run_cli("gc", "-h").stdout.split())

    def answer(reply: bytes) -> tuple[int, str]:
        main, tty = pty.openpty()
        proc = subprocess.Popen([LOOPLINE, "gc"], stdin=tty, stdout=subprocess.PIPE, text=True)
        os.close(tty)
        os.write(main, reply)
        out, _ = proc.communicate(timeout=120)
        os.close(main)
        return proc.returncode, out

    code, out = answer(b"n\n")
    assert code != 0 and "Delete 1 cached objects" in out
    oid = hash_bytes(b"v1")
    assert (project / ".loopline" / "objects" / oid[:2] / oid[2:]).exists()
    code, out = answer(b"y\n")
    assert code == 0 and "Removed 1 objects" in out
    assert not (project / ".loopline" / "objects" / oid[:2] / oid[2:]).exists()


def test_set_refuses_an_unknown_setting(project: Path) -> None:
    result = run_cli("--set", "core.nonsense=1", "status")
    assert result.exit_code == 2, result.output
    assert "unknown setting 'core.nonsense'" in result.stderr and "core.jobs" in result.stderr
    typo = run_cli("--set", "cache.verfy=true", "status")
    assert typo.exit_code == 2 and "did you mean cache.verify" in typo.stderr
    _no_traceback(typo)


def test_naming_a_missing_path_does_not_suggest_adding_it(project: Path) -> None:
    result = run_cli("checkout", "nosuch.csv")
    assert result.exit_code == 3
    assert "does not exist" in result.stderr and "loopline add" not in result.stderr
    make_tree(project, {"here.csv": "1"})
    untracked = run_cli("status", "here.csv")
    assert untracked.exit_code == 3 and "loopline add here.csv" in untracked.stderr


def test_links_to_git_loopline_pipeline_files_or_the_root_are_never_data(project: Path) -> None:
    import os

    make_tree(project, {"dvc.yaml": "stages: {}\n", "a.txt": "a"})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "start")
    head = git(project, "rev-parse", "HEAD")
    for name, target in [
        ("gl", ".git"),
        ("ll", ".loopline"),
        ("pl", "dvc.yaml"),
        ("self", "."),
        ("up", ".."),
    ]:
        os.symlink(target, project / name)
        added = run_cli("add", name)
        assert added.exit_code != 0, name
        assert "never data" in added.output or "git" in added.output, added.output
        assert "Traceback" not in added.output
        assert not (project / f"{name}.loopline").exists()
    # A forged pointer cannot make checkout write through the link into .git either.
    run_cli("add", "a.txt")
    oid = (project / "a.txt.loopline").read_text()
    (project / "gl.loopline").write_text(oid.replace("path: a.txt", "path: gl"))
    forced = run_cli("checkout", "-f", "gl")
    assert forced.exit_code != 0
    assert git(project, "rev-parse", "HEAD") == head
    assert (project / ".git").is_dir() and (project / ".git" / "HEAD").is_file()


def test_data_reached_through_a_link_is_tracked_once(project: Path) -> None:
    import os

    make_tree(project, {"data/a": "a", "data/y": "y"})
    assert run_cli("add", "data").exit_code == 0
    os.symlink("data", project / "alias")
    os.symlink("data/a", project / "alias2")
    for target in ("alias/y", "alias2", "alias"):
        result = run_cli("add", target)
        assert result.exit_code != 0, target
        assert "data" in result.output
        assert "Traceback" not in result.output


def test_folder_links_inside_an_added_folder_are_followed_or_refused(
    project: Path, tmp_path: Path
) -> None:
    import os

    make_tree(project, {"d/a.txt": "a", "real/b.txt": "b"})
    make_tree(tmp_path / "outside", {"secret.txt": "s"})
    os.symlink(tmp_path / "outside", project / "d" / "out")
    refused = run_cli("add", "d")
    assert refused.exit_code != 0 and "outside the project" in refused.output
    os.unlink(project / "d" / "out")
    os.symlink(project / "real", project / "d" / "in")
    assert run_cli("add", "d").exit_code == 0
    assert "nfiles: 2" in (project / "d.loopline").read_text()


def test_add_refuses_an_output_of_a_stage_that_never_ran(project: Path) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs:\n    - out.txt\n",
            "out.txt": "made by hand",
            "b.txt": "b",
        },
    )
    added = run_cli("add", "out.txt")
    assert added.exit_code != 0
    assert "stage 's'" in added.stderr and "loopline repro s" in added.stderr
    assert not (project / "out.txt.loopline").exists()
    assert run_cli("add", "b.txt").exit_code == 0
    assert run_cli("move", "b.txt", "out.txt").exit_code != 0


def test_checkout_force_replaces_a_subfolder_link_with_a_real_folder(project: Path) -> None:
    import os
    import shutil

    make_tree(project, {"data/sub/a.txt": "a", "data/b.txt": "b", "other/a.txt": "other"})
    assert run_cli("add", "data").exit_code == 0
    shutil.rmtree(project / "data" / "sub")
    os.symlink(project / "other", project / "data" / "sub")
    forced = run_cli("checkout", "-f", "data")
    assert forced.exit_code == 0, forced.output
    assert not (project / "data" / "sub").is_symlink()
    assert (project / "data" / "sub" / "a.txt").read_text() == "a"
    assert (project / "other" / "a.txt").read_text() == "other"  # never written through
    again = run_cli("checkout", "-f", "data")
    assert again.exit_code == 0
    assert run_cli("status").stdout.strip() == "Data is up to date."


def test_temporary_files_of_a_killed_add_are_swept_by_gc_and_the_next_add(
    project: Path,
) -> None:
    import os
    import subprocess
    import time

    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = finished.pid  # a process that is gone, as after kill -9
    tmp = project / ".loopline" / "objects" / "tmp" / "ab"
    tmp.mkdir(parents=True)
    old = time.time() - 600

    def leftover(name: str) -> Path:
        path = tmp / name
        path.write_bytes(b"half an object")
        os.utime(path, (old, old))
        return path

    of_dead = leftover(f"{dead}-{'0' * 32}")
    of_live = leftover(f"{os.getpid()}-{'1' * 32}")  # a writer that still runs
    make_tree(project, {"a.txt": "a"})
    assert run_cli("add", "a.txt").exit_code == 0
    assert not of_dead.exists() and of_live.exists()
    of_dead = leftover(f"{dead}-{'2' * 32}")
    assert run_cli("gc", "-f").exit_code == 0
    assert not of_dead.exists() and of_live.exists()


def test_status_suggests_pull_when_only_a_folder_listing_is_cached(project: Path) -> None:
    import shutil

    make_tree(project, {"d/a.txt": "a", "d/b.txt": "b"})
    assert run_cli("add", "d").exit_code == 0
    shutil.rmtree(project / "d")
    for content in (b"a", b"b"):  # what an interrupted pull leaves: the listing alone
        oid = hash_bytes(content)
        (project / ".loopline" / "objects" / oid[:2] / oid[2:]).unlink()
    shown = run_cli("status").stdout
    assert "loopline pull" in shown
    assert "loopline checkout" not in shown


def test_status_says_a_hardlinked_cache_object_edited_in_place_is_damaged(
    project: Path,
) -> None:
    make_tree(project, {"a.txt": "original"})
    assert run_cli("--set", "cache.type=hardlink,copy", "add", "a.txt").exit_code == 0
    path = project / "a.txt"
    path.chmod(0o644)
    with open(path, "r+b") as handle:  # an in-place edit changes the shared inode
        handle.write(b"O")
    shown = run_cli("--set", "cache.type=hardlink,copy", "status")
    assert "corrupt in cache" in shown.stdout, shown.output
    assert "loopline checkout` to discard" not in shown.stdout


def test_messages_about_damage_and_pointer_files_name_the_data(project: Path) -> None:
    import shutil

    make_tree(project, {"a.txt": "a", "d/x.txt": "x"})
    assert run_cli("add", "a.txt", "d").exit_code == 0
    (project / "a.txt").unlink()
    pointer = run_cli("add", "a.txt.loopline")
    assert pointer.exit_code != 0
    assert "does not exist" in pointer.stderr and "loopline checkout a.txt" in pointer.stderr
    oid = hash_bytes(b"x")
    obj = project / ".loopline" / "objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"y")
    verified = run_cli("checkout", "--verify", "-f", "d")
    assert verified.exit_code == 5
    assert "of object" not in verified.stderr and "object(s)" not in verified.stderr
    listing = next((project / ".loopline" / "objects").rglob("*.dir"))
    listing.chmod(0o644)
    listing.write_text("[]")
    shutil.rmtree(project / "d")
    damaged = run_cli("checkout", "-f", "d")
    assert damaged.exit_code == 5
    assert "quarantine" in damaged.stderr
    assert not listing.exists()
