"""Which metadata store a command uses, inside a project and outside one."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.errors import NotFound
from tests.conftest import run_cli


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "not-a-project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ("runs", "list"),
        ("models", "list"),
        ("experiments", "list"),
        ("server", "--port", "0"),
    ],
)
def test_outside_a_project_without_a_store_says_so_and_creates_nothing(
    outside: Path, command: tuple[str, ...]
) -> None:
    result = run_cli(*command, cwd=outside)
    assert result.exit_code == 3, result.output
    assert "no Loopline project" in result.stderr
    assert "no metadata store configured" in result.stderr
    assert "loopline init" in result.stderr and "LOOPLINE_STORE_URL" in result.stderr
    assert "Traceback" not in result.output
    assert list(outside.iterdir()) == []


def test_loading_a_registered_model_outside_a_project_creates_nothing(outside: Path) -> None:
    from loopline.models import pyfunc

    with pytest.raises(NotFound, match="no metadata store configured"):
        pyfunc.load_model("models:/churn/1")
    assert list(outside.iterdir()) == []


def test_store_url_from_the_environment_applies_outside_a_project(
    outside: Path, tmp_path: Path
) -> None:
    store = tmp_path / "shared" / "store.db"
    env = {"LOOPLINE_STORE_URL": f"sqlite:///{store}"}
    logged = run_cli("experiments", "create", "churn", cwd=outside, env=env)
    assert logged.exit_code == 0, logged.output
    listed = run_cli("experiments", "list", cwd=outside, env=env)
    assert listed.exit_code == 0 and "churn" in listed.stdout
    assert store.is_file()
    assert list(outside.iterdir()) == []


def test_store_url_from_the_environment_applies_inside_a_project(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopline.tracking._uri import resolve_tracking_uri

    store = tmp_path / "elsewhere.db"
    monkeypatch.setenv("LOOPLINE_STORE_URL", f"sqlite:///{store}")
    target = resolve_tracking_uri()
    assert target.store_url == f"sqlite:///{store}"


def test_the_tracking_uri_outside_a_project_says_there_is_none(outside: Path) -> None:
    import loopline

    with pytest.raises(NotFound, match="no metadata store configured"):
        loopline.get_tracking_uri()
    assert list(outside.iterdir()) == []


def test_a_bare_dot_loopline_folder_above_is_no_project(outside: Path) -> None:
    """A `.loopline` folder without the config `loopline init` writes (one a tool keeps in a
    home folder, say) does not get a store written into it."""
    (outside / ".loopline").mkdir()
    (outside / "work").mkdir()
    result = run_cli("runs", "list", cwd=outside / "work")
    assert result.exit_code == 3, result.output
    assert "no Loopline project" in result.stderr
    assert list((outside / ".loopline").iterdir()) == []


def test_a_dot_loopline_link_leading_outside_is_refused(outside: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.yaml").write_text("# settings\n")
    (outside / ".loopline").symlink_to(elsewhere)
    for command in (("runs", "list"), ("init",)):
        result = run_cli(*command, cwd=outside)
        assert result.exit_code != 0, result.output
        assert "outside the project folder" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["config.yaml"]


def test_a_plain_path_to_a_sqlite_file_suggests_a_sqlite_url(outside: Path) -> None:
    store = outside / "s.db"
    assert run_cli("runs", "list", env={"LOOPLINE_STORE_URL": f"sqlite:///{store}"}).exit_code == 0
    result = run_cli("runs", "list", env={"LOOPLINE_TRACKING_URI": str(store)})
    assert result.exit_code != 0 and "Traceback" not in result.stderr, result.stderr
    assert "plain path names a folder" in result.stderr
    assert f"sqlite:///{store}" in result.stderr
