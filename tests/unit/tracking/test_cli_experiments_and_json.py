"""The tracking CLI: a deleted experiment's name, and --json with non-finite metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import loopline
from tests.conftest import run_cli


def test_creating_a_deleted_experiment_says_it_is_deleted_and_how_to_restore(
    project: Path,
) -> None:
    assert run_cli("experiments", "create", "churn").exit_code == 0
    assert run_cli("experiments", "delete", "churn").exit_code == 0
    again = run_cli("experiments", "create", "churn")
    assert again.exit_code != 0 and "Traceback" not in again.stderr
    assert "deleted state" in again.stderr
    assert "loopline experiments restore churn" in again.stderr
    assert run_cli("experiments", "restore", "churn").exit_code == 0


def test_runs_list_json_is_valid_json_with_nan_and_infinite_metrics(project: Path) -> None:
    loopline.set_tracking_uri(None)
    with loopline.start_run():
        loopline.log_metric("loss", math.nan)
        loopline.log_metric("gain", math.inf)
        loopline.log_metric("low", -math.inf)
    listed = run_cli("runs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr

    def refuse(word: str) -> float:
        raise AssertionError(f"bare {word} is not JSON")

    runs = json.loads(listed.stdout, parse_constant=refuse)
    text = json.dumps(runs)
    assert '"NaN"' in text and '"Infinity"' in text and '"-Infinity"' in text
