"""Requests decoded against a model's signature: rows in trained column order, and 400-worthy
problems named precisely."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.core.errors import InvalidInput
from loopline.serving.inputs import InputSchema

SCHEMA = InputSchema.of_columns(["a", "b", "c"], ["double", "double", "long"])


def test_rows_columns_and_records_decode_to_the_same_matrix() -> None:
    rows = SCHEMA.from_rows([[1, 2, 3], [4, 5, 6]])
    columns = SCHEMA.from_columns({"c": [3, 6], "a": [1, 4], "b": [2, 5]})
    records = SCHEMA.from_records([{"b": 2, "a": 1, "c": 3}, {"c": 6, "a": 4, "b": 5}])
    assert rows.tolist() == columns.tolist() == records.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert type(rows[0, 2]) is int  # a long column stays exact; doubles are floats
    assert type(rows[0, 0]) is float


def test_a_flat_row_is_one_row() -> None:
    assert SCHEMA.from_rows([1, 2, 3]).shape == (1, 3)


def test_missing_and_unknown_columns_are_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        SCHEMA.from_columns({"a": [1], "b": [2], "zzz": [3]})
    assert "missing column(s) c" in caught.value.message
    assert "unknown column(s) zzz" in caught.value.message
    assert "a (double), b (double), c (long)" in (caught.value.hint or "")


def test_a_row_of_the_wrong_width_says_how_many_values_are_needed() -> None:
    with pytest.raises(InvalidInput, match="each row must have 3 values, got 2"):
        SCHEMA.from_rows([[1, 2]])


def test_text_where_numbers_are_expected_is_refused() -> None:
    with pytest.raises(InvalidInput, match="column 'b' is double and takes a number, not 'x'"):
        SCHEMA.from_rows([[1, "x", 3]])
    with pytest.raises(InvalidInput, match=r"column 'a' is double and takes a number, not '1\.5'"):
        SCHEMA.from_tensor(["1.5", "2", "3"], [1, 3])


def test_a_null_in_a_required_column_names_the_column() -> None:
    with pytest.raises(InvalidInput, match="column 'b' has a missing value"):
        SCHEMA.from_rows([[1, None, 3]])


def test_tensor_shape_must_match_its_data() -> None:
    with pytest.raises(InvalidInput, match="has 5 values but its shape \\[2, 3\\] needs 6"):
        SCHEMA.from_tensor([1, 2, 3, 4, 5], [2, 3])
    assert SCHEMA.from_tensor([[1, 2, 3], [4, 5, 6]], [2, 3]).shape == (2, 3)


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(InvalidInput, match="different numbers of rows"):
        SCHEMA.from_columns({"a": [1, 2], "b": [2], "c": [3]})


def test_string_columns_keep_their_values() -> None:
    mixed = InputSchema.of_columns(["plan", "monthly"], ["string", "double"])
    matrix = mixed.from_records([{"plan": "pro", "monthly": 20.5}])
    assert matrix.dtype == object
    assert matrix.tolist() == [["pro", 20.5]]
    assert mixed.column_dtypes == {"monthly": np.dtype("float64")}  # cast after decoding


def test_an_unnamed_model_takes_rows_but_not_named_columns() -> None:
    unnamed = InputSchema.unnamed(2)
    assert unnamed.from_rows([[1, 2]]).shape == (1, 2)
    with pytest.raises(InvalidInput, match="unnamed matrix"):
        unnamed.from_columns({"x": [1]})


@given(
    st.lists(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=3, max_size=3
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_finite_rows_round_trip_through_every_form(rows: list[list[float]]) -> None:
    schema = InputSchema.of_columns(["a", "b", "c"], ["double"] * 3)
    names = schema.names
    records = [dict(zip(names, row, strict=True)) for row in rows]
    columns = {n: [row[i] for row in rows] for i, n in enumerate(names)}
    flat = [v for row in rows for v in row]
    expected = np.asarray(rows, dtype=np.float64)
    for matrix in (
        schema.from_rows(rows),
        schema.from_records(records),
        schema.from_columns(columns),
        schema.from_tensor(flat, [len(rows), 3]),
    ):
        np.testing.assert_array_equal(matrix, expected)
