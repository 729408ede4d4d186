"""`loopline serve` as a user starts it: each start-up problem is one clear line (not a log line
and then the same error again), nothing claims to be serving before the port is held, and the
hints name what a CLI user types."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration._serving import churn_data, save_churn_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-cli") / "churn"
    save_churn_model(folder, churn_data(seed=0, rows=100))
    return folder


def test_a_missing_model_folder_is_one_error_saying_it_does_not_exist(tmp_path: Path) -> None:
    result = run_cli("serve", str(tmp_path / "nowhere"))
    assert result.exit_code != 0
    assert f"{tmp_path / 'nowhere'} does not exist" in result.stderr
    assert "no MLmodel file" not in result.stderr
    assert result.stderr.count("does not exist") == 1, result.stderr
    assert "Serving" not in result.stderr


def test_a_port_in_use_is_an_error_and_nothing_says_serving(model: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", str(model), "--port", str(port))
    assert result.exit_code == 4, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Serving" not in result.output


def test_a_pickled_model_is_refused_with_the_cli_flag_named(model: Path, tmp_path: Path) -> None:
    from loopline.models.sklearn import load_from_folder, save_model

    folder = tmp_path / "pickled"
    save_model(load_from_folder(model), folder, serialization_format="pickle")
    assert (folder / "model.pkl").is_file()
    result = run_cli("serve", str(folder))
    assert result.exit_code != 0
    assert "--trusted" in result.stderr
    assert result.stderr.count("is a pickle") == 1, result.stderr


def test_serving_a_registered_model_that_does_not_exist_says_so(project: Path) -> None:
    result = run_cli("serve", "models:/zz")
    assert result.exit_code != 0, result.output
    assert "registered model 'zz' does not exist" in result.stderr
    assert "Serving" not in result.stderr
