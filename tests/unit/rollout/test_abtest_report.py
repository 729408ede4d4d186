"""The A/B report over a table of outcomes, through the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from loopline.cli import cli
from loopline.core.errors import InvalidInput, NotFound
from loopline.rollout.abtest import ab_test_report, read_outcome_table


def _outcomes(tmp_path: Path, fmt: str = "parquet") -> Path:
    # 1000/10000 vs 1100/10000 conversions: the reference's worked z-test example.
    variants = ["control"] * 10000 + ["treatment"] * 10000
    converted = [1] * 1000 + [0] * 9000 + [1] * 1100 + [0] * 8900
    rng = np.random.default_rng(3)
    revenue = np.concatenate([rng.normal(10.0, 2.0, 10000), rng.normal(10.2, 2.0, 10000)])
    table = pa.table({"variant": variants, "converted": converted, "revenue": revenue})
    path = tmp_path / f"events.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(table, path)
    return path


def test_report_matches_the_reference_z_test_and_applies_holm(tmp_path: Path) -> None:
    variants, metrics = read_outcome_table(_outcomes(tmp_path), "variant", ["converted", "revenue"])
    report = ab_test_report(variants, metrics, weights={"control": 50, "treatment": 50})
    data = report.to_dict()
    assert data["control"] == "control"
    conversion = data["metrics"][0]
    assert conversion["kind"] == "rate"
    treatment = conversion["comparisons"]["treatment"]
    assert treatment["p_value"] == pytest.approx(0.021075, abs=1e-6)
    assert treatment["relative_lift"] == pytest.approx(0.1)
    assert data["metrics"][1]["kind"] == "mean"
    p_values = [m["comparisons"]["treatment"]["p_value"] for m in data["metrics"]]
    holm = [m["comparisons"]["treatment"]["holm_p_value"] for m in data["metrics"]]
    assert max(holm) >= max(p_values) and min(holm) == pytest.approx(2 * min(p_values))
    assert data["sample_ratio"]["mismatch"] is False


def test_cli_json_is_one_object_and_flags_sample_ratio_mismatch(tmp_path: Path) -> None:
    path = _outcomes(tmp_path, "csv")
    result = CliRunner().invoke(
        cli,
        ["abtest", "report", "--from", str(path), "--metric-column", "converted",
         "--weights", "control=90,treatment=10", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sample_ratio"]["mismatch"] is True
    assert data["metrics"][0]["variants"]["treatment"]["n"] == 10000


def test_cli_table_names_lifts_and_significance(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["abtest", "report", "--from", str(_outcomes(tmp_path)), "--metric-column",
         "converted"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "+10.00%" in result.output
    assert "always-valid p" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric-column", "nope"], "has no column 'nope'"),
        (["--metric-column", "variant"], "not numbers"),
        (["--metric-column", "converted", "--weights", "control=50"], "disagree"),
        (["--metric-column", "converted", "--weights", "control=x,treatment=1"], "NAME="),
        (["--metric-column", "converted", "--control", "zzz"], "has no units"),
    ],
)
def test_cli_bad_input_is_one_clear_line(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopline.cli import main

    path = _outcomes(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["abtest", "report", "--from", str(path), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_tables(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_outcome_table(tmp_path / "missing.csv", "variant", ["m"])
    garbage = tmp_path / "bad.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match="cannot read"):
        read_outcome_table(garbage, "variant", ["m"])
    one = np.array(["a", "a"], dtype=object)
    with pytest.raises(InvalidInput, match="only one variant"):
        ab_test_report(one, {"m": np.array([1.0, 0.0])})
    two = np.array(["a", "b"], dtype=object)
    with pytest.raises(InvalidInput, match="no non-null"):
        ab_test_report(two, {"m": np.array([1.0, np.nan])})
    with pytest.raises(InvalidInput, match="infinite"):
        ab_test_report(two, {"m": np.array([1.0, np.inf])})


def test_blank_variants_and_header_only_tables_are_refused(tmp_path: Path) -> None:
    blank = tmp_path / "blank.csv"
    blank.write_text("variant,m\na,1\n,0\nb,1\n  ,1\n")
    with pytest.raises(InvalidInput, match=r"2 rows .* have no 'variant'"):
        read_outcome_table(blank, "variant", ["m"])
    header = tmp_path / "header.csv"
    header.write_text("variant,m\n")
    with pytest.raises(InvalidInput, match="has no rows"):
        read_outcome_table(header, "variant", ["m"])


def test_a_single_unit_arm_gives_null_intervals_not_a_crash() -> None:
    variants = np.array(["a", "a", "a", "b", "b"], dtype=object)
    report = ab_test_report(variants, {"m": np.array([1.5, 2.5, 3.5, 2.0, 4.0])})
    json.dumps(report.to_dict(), allow_nan=False)
