"""The inference log keeps its own columns apart from the features and survives odd values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loopline.serving.inference_log import InferenceLog, read_inference_log


def test_features_named_like_log_columns_do_not_overwrite_them(tmp_path: Path) -> None:
    log = InferenceLog(tmp_path, 1.0)
    values = np.asarray([[0.5, 0.3, 0.9]])
    log.offer(
        "req-1", "m", "1", ("row", "prediction", "request_id"), values, {"predict": np.asarray([1])}
    )
    log.flush()
    table = read_inference_log(tmp_path, "m").to_pydict()
    assert table["request_id"] == ["req-1"] and table["row"] == [0] and table["prediction"] == [1]
    assert table["feature:row"] == [0.5]
    assert table["feature:prediction"] == [0.3]
    assert table["feature:request_id"] == [0.9]


def test_mixed_values_in_a_column_are_kept_as_text_and_the_writer_goes_on(tmp_path: Path) -> None:
    dropped: list[int] = []
    log = InferenceLog(tmp_path, 1.0, on_drop=dropped.append)
    mixed = np.asarray([[5, 0.7], ["paris", 0.2]], dtype=object)
    log.offer("req-1", "m", "1", ("city", "x"), mixed, {"predict": np.asarray([0, 1])})
    log.flush()
    log.offer(
        "req-2",
        "m",
        "1",
        ("city", "x"),
        np.asarray([["rome", 0.1]], dtype=object),
        {"predict": np.asarray([1])},
    )
    log.flush()
    table = read_inference_log(tmp_path, "m").to_pydict()
    assert sorted(table["request_id"]) == ["req-1", "req-1", "req-2"]
    assert set(table["city"]) == {"5", "paris", "rome"}
    assert dropped == []


def test_a_whole_number_column_logged_as_floats_before_and_ints_now_reads_back(
    tmp_path: Path,
) -> None:
    log = InferenceLog(tmp_path, 1.0)
    predict = {"predict": np.asarray([1])}
    log.offer("old", "m", "1", ("n",), np.asarray([[3.0]]), predict)  # an older server's float
    log.flush()
    log.offer("new", "m", "1", ("n",), np.asarray([[2**53 + 1]], dtype=object), predict)
    log.flush()
    table = read_inference_log(tmp_path, "m").to_pydict()
    assert sorted(zip(table["request_id"], table["n"], strict=True)) == [
        ("new", float(2**53 + 1)),
        ("old", 3.0),
    ]
