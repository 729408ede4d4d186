"""The command line as a whole: every command has help, start-up stays light."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from loopline.cli import cli
from tests.conftest import run_cli


def _all_commands() -> list[list[str]]:
    paths: list[list[str]] = []
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths.extend([name, sub] for sub in command.list_commands(ctx))
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: loopline " + " ".join(path) in result.stdout
    assert len(result.stdout.splitlines()) >= 3


HEAVY = (
    "numpy",
    "pandas",
    "sklearn",
    "dask",
    "kubernetes",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "fsspec",
    "rich",
    "yaml",
    "blake3",
)


@pytest.mark.parametrize(
    "code",
    [
        "import loopline",
        "from loopline.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass",
    ],
)
def test_start_up_imports_nothing_heavy(code: str) -> None:
    probe = code + (
        "\nimport sys; loaded = {m.split('.')[0] for m in sys.modules}"
        f"\nprint('HEAVY:' + ','.join(sorted(loaded & set({HEAVY!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("loopline, version ")


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.exit_code == 2 and "No such command" in result.stderr


def test_bad_global_override() -> None:
    result = run_cli("--set", "nodots=1", "status")
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [(["stauts"], "'status'"), (["chekout"], "'checkout'"), (["models", "lst"], "'list'")],
)
def test_a_mistyped_command_names_the_closest_ones(typo: list[str], suggestion: str) -> None:
    result = run_cli(*typo)
    assert result.exit_code == 2
    assert f"No such command '{typo[-1]}'. Did you mean {suggestion}?" in result.stderr
    assert "Did you mean" not in run_cli("frobnicate").stderr


def test_a_mistyped_option_close_to_a_command_suggests_the_command() -> None:
    from tests.conftest import run_cli

    result = run_cli("--stauts")
    assert result.exit_code == 2
    assert "Did you mean the command 'status'?" in result.stderr and "--set" not in result.stderr
    assert "Did you mean '--set'?" in run_cli("--sett").stderr
