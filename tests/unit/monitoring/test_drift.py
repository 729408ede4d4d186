"""The drift report over tables: default tests, thresholds, the JSON shape and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from loopline.core.errors import InvalidInput
from loopline.monitoring.drift import DriftDetector

KEYS = {"type", "test", "statistic", "p_value", "threshold", "drifted"}


def _tables(n_ref: int, n_cur: int, shift: float = 0.0, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)

    def table(n: int, offset: float) -> pa.Table:
        return pa.table(
            {
                "age": rng.normal(40 + offset * 10, 10, n),
                "income": rng.lognormal(10, 1, n),
                "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
                "churned": rng.choice([True, False], n),
                "rooms": rng.integers(1, 4, n),
            }
        )

    return table(n_ref, 0.0), table(n_cur, shift)


def test_json_has_exactly_the_documented_shape() -> None:
    reference, current = _tables(500, 400, shift=1.0)
    report = DriftDetector().run(reference, current).to_dict()
    assert set(report) == {"dataset_drift", "drift_share", "drifted_columns", "columns"}
    assert list(report["columns"]) == ["age", "income", "plan", "churned", "rooms"]
    for column in report["columns"].values():
        assert set(column) == KEYS
    assert report["columns"]["age"]["drifted"] is True
    assert report["drifted_columns"] == sum(c["drifted"] for c in report["columns"].values())
    assert report["drift_share"] == report["drifted_columns"] / 5
    assert report["dataset_drift"] is (report["drift_share"] >= 0.5)
    json.dumps(report, allow_nan=False)


def test_small_reference_gets_evidently_p_value_tests() -> None:
    reference, current = _tables(1000, 300)
    columns = DriftDetector().run(reference, current).columns
    tests = {c.name: c.test for c in columns}
    assert tests == {
        "age": "ks",
        "income": "ks",
        "plan": "chi2_gof",
        "churned": "z",
        "rooms": "chi2_gof",
    }
    age = columns[0]
    expected = stats.ks_2samp(reference["age"].to_numpy(), current["age"].to_numpy())
    assert age.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert age.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert age.threshold == 0.05


def test_large_reference_gets_distances() -> None:
    reference, current = _tables(1001, 300)
    tests = {c.name: c.test for c in DriftDetector().run(reference, current).columns}
    assert tests == {
        "age": "wasserstein_normed",
        "income": "wasserstein_normed",
        "plan": "jensenshannon",
        "churned": "jensenshannon",
        "rooms": "jensenshannon",
    }


def test_no_shift_is_no_drift_and_a_shift_is_dataset_drift() -> None:
    assert DriftDetector().run(*_tables(3000, 3000)).dataset_drift is False
    rng = np.random.default_rng(1)
    ref = pa.table({f"x{i}": rng.normal(0, 1, 2000) for i in range(4)})
    cur = pa.table({f"x{i}": rng.normal(0.5 if i < 2 else 0, 1, 2000) for i in range(4)})
    report = DriftDetector().run(ref, cur)
    assert [c.drifted for c in report.columns] == [True, True, False, False]
    assert report.drift_share == 0.5 and report.dataset_drift  # share reaches the threshold
    assert DriftDetector(drift_share=0.75).run(ref, cur).dataset_drift is False
    assert [c.name for c in report.worst()] in (["x0", "x1"], ["x1", "x0"])


def test_tests_and_thresholds_are_configurable() -> None:
    reference, current = _tables(2000, 2000, shift=0.05)
    detector = DriftDetector(
        numeric_test="psi", categorical_test="chi2", thresholds={"psi": 0.5, "chi2": 0.01}
    )
    columns = {c.name: c for c in detector.run(reference, current).columns}
    assert columns["age"].test == "psi" and columns["age"].threshold == 0.5
    assert columns["plan"].test == "chi2" and columns["plan"].threshold == 0.01
    with pytest.raises(InvalidInput, match="unknown numeric drift test 'kolmogorov'"):
        DriftDetector(numeric_test="kolmogorov")
    with pytest.raises(InvalidInput, match="cannot judge a categorical column"):
        DriftDetector(categorical_test="ks")
    with pytest.raises(InvalidInput, match="unknown test 'pvalue'"):
        DriftDetector(thresholds={"pvalue": 0.1})


# -------------------------------------------------------------------------------- bad input


def test_different_columns_name_both_sides_and_the_shared_ones() -> None:
    ref = pa.table({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    cur = pa.table({"a": [1.0, 2.0], "c": [1.0, 2.0]})
    with pytest.raises(
        InvalidInput, match=r"only the reference has 'b'.*only the current.*'c'"
    ) as e:
        DriftDetector().run(ref, cur)
    assert e.value.hint == "compare the shared ones with --columns a"
    assert DriftDetector(columns=["a"]).run(ref, cur).drifted_columns == 0


def test_all_null_column_is_a_stated_result_never_nan() -> None:
    ref = pa.table({"x": [1.0, 2.0, 3.0], "y": pa.array([None, None, None], pa.float64())})
    cur = pa.table({"x": pa.array([None, None], pa.float64()), "y": [None, None]})
    columns = {c.name: c for c in DriftDetector().run(ref, cur).columns}
    assert columns["x"].drifted and columns["x"].statistic is None
    assert "every current value is missing" in (columns["x"].note or "")
    assert columns["x"].missing_current == 1.0
    assert not columns["y"].drifted and "both tables" in (columns["y"].note or "")
    assert columns["y"].to_dict()["statistic"] is None


def test_constant_and_single_row_columns_have_defined_results() -> None:
    ref = pa.table({"c": [5.0] * 50, "s": ["a"] * 50})
    report = DriftDetector().run(ref, pa.table({"c": [5.0] * 10, "s": ["a"] * 10}))
    for column in report.columns:
        assert column.p_value == 1.0 and not column.drifted
    single = DriftDetector().run(pa.table({"c": [1.0]}), pa.table({"c": [9.0]}))
    column = single.columns[0]
    assert column.p_value is not None and not math.isnan(column.p_value)
    assert "little power" in (column.note or "")


def test_mixed_types_are_refused_unless_compared_as_categories() -> None:
    ref = pa.table({"zip": [1, 2, 3]})
    cur = pa.table({"zip": ["1", "2", "x"]})
    with pytest.raises(InvalidInput, match=r"'zip' is numeric in the reference.*categorical"):
        DriftDetector().run(ref, cur)
    report = DriftDetector(categorical=["zip"]).run(ref, cur)
    assert report.columns[0].kind == "categorical" and report.columns[0].unseen_count == 1


def test_a_categorical_column_with_100k_levels() -> None:
    ids = [f"id{i}" for i in range(100_000)]
    report = DriftDetector().run(pa.table({"id": ids}), pa.table({"id": ids[:50_000]}))
    column = report.columns[0]
    assert column.test == "jensenshannon" and column.n_unique == 100_000
    assert "identifier" in (column.note or "")
    assert column.plot is not None and len(column.plot.labels) == 9  # 8 levels + "others"


def test_empty_current_table_is_an_error() -> None:
    ref = pa.table({"x": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="the current table has no rows"):
        DriftDetector().run(ref, ref.slice(0, 0))


def test_unsupported_column_type_names_the_column() -> None:
    table = pa.table({"when": pa.array([1, 2], pa.timestamp("s"))})
    with pytest.raises(InvalidInput, match="'when' holds timestamp"):
        DriftDetector().run(table, table)


def test_unseen_level_gives_infinite_statistic_written_as_null() -> None:
    ref = pa.table({"plan": ["a", "b"] * 20})
    cur = pa.table({"plan": ["a", "b", "new"] * 10})
    column = DriftDetector().run(ref, cur).columns[0]
    assert column.test == "chi2_gof" and column.drifted
    assert column.to_dict()["statistic"] is None and column.to_dict()["p_value"] == 0.0
    assert column.unseen_count == 10


def test_distinct_values_of_a_numeric_column_count_both_tables() -> None:
    """Ten values in the reference, ten other values in the current: 20 distinct, as a
    categorical column of the same values counts its levels."""
    reference = pa.table({"x": np.arange(10.0), "c": [str(v) for v in range(10)]})
    current = pa.table({"x": np.arange(10.0, 20.0), "c": [str(v) for v in range(10, 20)]})
    report = DriftDetector(categorical=["c"]).run(reference, current)
    counts = {c.name: c.n_unique for c in report.columns}
    assert counts == {"x": 20, "c": 20}


def test_one_row_note_and_chi2_over_unique_values_note() -> None:
    rng = np.random.default_rng(3)
    reference = pa.table({"x": rng.normal(0, 1, 400)})
    one = DriftDetector().run(reference, pa.table({"x": [0.5]}))
    assert one.columns[0].note == "only 1 value on one side: the test has little power"
    shifted = pa.table({"x": rng.normal(3, 1, 400)})
    report = DriftDetector(numeric_test="chi2").run(reference, shifted)
    note = report.columns[0].note or ""
    assert "mostly unique" in note and "cannot show a shift" in note
    assert report.details()["columns"]["x"]["note"] == note
