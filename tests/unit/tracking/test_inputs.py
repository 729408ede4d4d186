"""What ``log_input`` records: from a subfolder, inside a tracked folder, outside a project."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopline
from loopline.tracking.inputs import inspect_input
from tests.conftest import run_cli


def test_an_input_named_from_a_subfolder_is_matched_against_its_pointer(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x,y\n1,2\n")
    (project / "src").mkdir()
    assert run_cli("add", "data/train.csv").exit_code == 0
    monkeypatch.chdir(project / "src")
    data, tracked = inspect_input("../data/train.csv")
    assert (data.path, data.workspace_matches, tracked) == ("data/train.csv", True, data.oid)
    (project / "data" / "train.csv").write_text("x,y\n1,2\n3,4\n")
    data, tracked = inspect_input("../data/train.csv")
    assert data.workspace_matches is False and tracked is not None and tracked != data.oid


def test_an_unchanged_file_of_a_changed_tracked_folder_matches(project: Path) -> None:
    """Only what the run read counts: another file of the folder changing does not make the
    run's input differ from the tracked version."""
    (project / "images" / "cats").mkdir(parents=True)
    (project / "images" / "cat.txt").write_text("meow\n")
    (project / "images" / "dog.txt").write_text("woof\n")
    (project / "images" / "cats" / "a.txt").write_text("a\n")
    assert run_cli("add", "images").exit_code == 0
    (project / "images" / "dog.txt").write_text("WOOF\n")  # edited, not added
    for read in ("images/cat.txt", "images/cats"):
        data, tracked = inspect_input(read)
        assert (data.workspace_matches, tracked) == (True, data.oid), read
    data, tracked = inspect_input("images/dog.txt")
    assert data.workspace_matches is False and tracked not in (None, data.oid)
    (project / "images" / "new.txt").write_text("new\n")
    data, tracked = inspect_input("images/new.txt")
    assert (data.workspace_matches, tracked) == (False, None)


def test_log_input_outside_a_project_records_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,2\n")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LOOPLINE_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("LOOPLINE_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    loopline.set_tracking_uri(None)
    with loopline.start_run() as run:
        recorded = loopline.log_input("train.csv")
    assert recorded.workspace_matches is None and len(recorded.oid) >= 32
    assert recorded.path == str(folder / "train.csv")
    got = loopline.get_run(run.info.run_id)
    assert [d.oid for d in got.inputs] == [recorded.oid]
    assert got.info.status == "FINISHED"
    assert not (folder / ".loopline").exists()


def test_an_input_of_a_project_named_from_outside_it_is_matched(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "train.csv").write_text("x,y\n1,2\n")
    assert run_cli("add", "train.csv").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data, tracked = inspect_input(project / "train.csv")
    assert (data.path, data.workspace_matches, tracked) == ("train.csv", True, data.oid)
