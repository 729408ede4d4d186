"""``loopline monitor drift`` over real Parquet and CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    reference = pa.table(
        {
            "age": rng.normal(40, 10, 800),
            "plan": rng.choice(["basic", "plus", "pro"], 800),
            "score": rng.normal(0, 1, 800),
        }
    )
    current = pa.table(
        {
            "age": rng.normal(55, 10, 300),
            "plan": rng.choice(["basic", "plus", "pro"], 300),
            "score": rng.normal(0, 1, 300),
        }
    )
    pq.write_table(reference, tmp_path / "reference.parquet")
    pa_csv.write_csv(current, tmp_path / "current.csv")
    return tmp_path / "reference.parquet", tmp_path / "current.csv"


def test_json_is_one_object_with_the_documented_keys(tables: tuple[Path, Path]) -> None:
    reference, current = tables
    result = run_cli(
        "monitor", "drift", "--reference", str(reference), "--current", str(current), "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"dataset_drift", "drift_share", "drifted_columns", "columns"}
    assert report["columns"]["age"] | {"statistic": None, "p_value": None} == {
        "type": "numeric",
        "test": "ks",
        "statistic": None,
        "p_value": None,
        "threshold": 0.05,
        "drifted": True,
    }
    assert report["columns"]["plan"]["test"] == "chi2_gof"
    assert report["drifted_columns"] == 1 and report["dataset_drift"] is False


def test_options_choose_columns_tests_and_thresholds(tables: tuple[Path, Path]) -> None:
    reference, current = tables
    result = run_cli(
        "monitor", "drift", "--reference", str(reference), "--current", str(current),
        "--columns", "age,score", "--numeric-test", "psi", "--threshold", "psi=5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    columns = json.loads(result.stdout)["columns"]
    assert list(columns) == ["age", "score"]
    assert columns["age"]["test"] == "psi" and columns["age"]["threshold"] == 5.0


def test_human_output_names_the_drifted_column(tables: tuple[Path, Path]) -> None:
    reference, current = tables
    result = run_cli("monitor", "drift", "--reference", str(reference), "--current", str(current))
    assert result.exit_code == 0, result.stderr
    assert "1 of 3 columns drifted" in result.stdout
    age_line = next(line for line in result.stdout.splitlines() if line.startswith("age"))
    assert "yes" in age_line


def test_bad_input_is_one_clear_line(tables: tuple[Path, Path], tmp_path: Path) -> None:
    reference, _ = tables
    other = tmp_path / "other.csv"
    other.write_text("age,city\n1,Paris\n")
    result = run_cli("monitor", "drift", "--reference", str(reference), "--current", str(other))
    assert result.exit_code == 2
    assert "different columns" in result.stderr and "Traceback" not in result.stderr
    assert "hint: compare the shared ones with --columns age" in result.stderr
    missing = run_cli("monitor", "drift", "--reference", str(reference), "--current", "nope.csv")
    assert missing.exit_code == 3 and "current nope.csv does not exist" in missing.stderr
    bad = run_cli(
        "monitor", "drift", "--reference", str(reference), "--current", str(reference),
        "--threshold", "ks",
    )  # fmt: skip
    assert bad.exit_code == 2 and "not TEST=NUMBER" in bad.stderr


def test_html_report_is_written_beside_the_json(tables: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = tables
    out = tmp_path / "drift.html"
    result = run_cli(
        "monitor", "drift", "--reference", str(reference), "--current", str(current),
        "--json", "--html", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # still exactly one object on stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "age" in page


@pytest.mark.parametrize("where", ["", "out/"])
def test_empty_or_folder_output_paths_are_refused(
    tables: tuple[Path, Path], tmp_path: Path, where: str
) -> None:
    reference, current = tables
    (tmp_path / "out").mkdir()
    target = str(tmp_path / where) if where else ""
    commands = [
        ["monitor", "drift", "--reference", str(reference), "--current", str(current)],
        ["monitor", "dashboard"],
        ["monitor", "alerts"],
    ]
    for command, option in zip(commands, ["--html", "-o", "-o"], strict=True):
        result = run_cli(*command, option, target, cwd=tmp_path)
        assert result.exit_code == 2, (command, result.exit_code, result.stderr)
        assert (
            "empty path" in result.stderr
            or "folder" in result.stderr
            or "Directory" in (result.stderr)
        )


def test_html_into_a_missing_folder_fails_before_work_and_names_the_path(
    tables: tuple[Path, Path], tmp_path: Path
) -> None:
    reference, current = tables
    result = run_cli(
        "monitor", "drift", "--reference", str(reference), "--current", str(current),
        "--html", "nodir/x.html", cwd=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert "cannot write nodir/x.html: the folder nodir does not exist" in result.stderr
    assert ".tmp" not in result.stderr


def test_missing_threshold_counts_a_column_whose_values_went_missing(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, 600)
    gone = values.copy()
    gone[:300] = np.inf  # ±inf counts as missing: half the column is gone
    pq.write_table(pa.table({"x": values}), tmp_path / "ref.parquet")
    pq.write_table(pa.table({"x": gone}), tmp_path / "cur.parquet")
    args = ["monitor", "drift", "--reference", str(tmp_path / "ref.parquet"),
            "--current", str(tmp_path / "cur.parquet"), "--json"]  # fmt: skip
    plain = json.loads(run_cli(*args).stdout)
    assert plain["columns"]["x"]["drifted"] is False  # the remaining values did not move
    strict = run_cli(*args, "--missing-threshold", "0.1")
    assert strict.exit_code == 0, strict.stderr
    assert json.loads(strict.stdout)["columns"]["x"]["drifted"] is True
    bad = run_cli(*args, "--missing-threshold", "2")
    assert bad.exit_code == 2 and "missing threshold 2.0 is not in [0, 1)" in bad.stderr
