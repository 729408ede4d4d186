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
