"""Ground truth for served requests: recorded from Python and the CLI, read back by request id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loopline.serving import read_feedback, record_feedback

LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def test_python_and_cli_feedback_land_in_the_same_log(tmp_path: Path) -> None:
    record_feedback("req-1", 1, log_dir=tmp_path)
    record_feedback("req-2", None, labels=["yes", "no"], log_dir=tmp_path)
    done = subprocess.run(
        [LOOPLINE, "feedback", "req-3", "0.5", "--log-dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    table = read_feedback(tmp_path).sort_by("request_id").to_pydict()
    assert table["request_id"] == ["req-1", "req-2", "req-2", "req-3"]
    assert table["row"] == [0, 0, 1, 0]
    assert table["label"] == [1.0, None, None, 0.5]
    assert table["label_text"] == ["1", "yes", "no", "0.5"]


def test_cli_feedback_from_a_csv_groups_rows_by_request(tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("request_id,label\na,1\nb,0\na,0\n")
    done = subprocess.run(
        [LOOPLINE, "feedback", "--file", str(csv_file), "--log-dir", str(tmp_path / "log")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Recorded 3 label(s) for 2 request(s)" in done.stdout
    table = read_feedback(tmp_path / "log").to_pydict()
    assert sorted(zip(table["request_id"], table["row"], strict=True)) == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
    ]


def test_cli_feedback_without_a_label_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [LOOPLINE, "feedback", "req-1", "--log-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "error: give the label after the request id" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_feedback_warns_about_request_ids_the_inference_log_does_not_hold(
    tmp_path: Path,
) -> None:
    import json

    import numpy as np

    from loopline.serving.inference_log import InferenceLog

    log = InferenceLog(tmp_path, 1.0)
    values = np.asarray([[1.0, 2.0]])
    log.offer("served-1", "churn", "1", ("a", "b"), values, {"predict": np.asarray([1])})
    log.flush()
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("request_id,label\nserved-1,1\ntypo-1,0\ntypo-2,1\n")
    done = subprocess.run(
        [LOOPLINE, "feedback", "--file", str(csv_file), "--log-dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "2 of 3 request id(s) are not in the inference log" in done.stderr
    assert "typo-1, typo-2" in done.stderr
    assert json.loads(done.stdout)["unlogged_request_ids"] == ["typo-1", "typo-2"]
    assert len(read_feedback(tmp_path)) == 3  # kept: a label may come for an unsampled request
    known = subprocess.run(
        [LOOPLINE, "feedback", "served-1", "0", "--log-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert known.returncode == 0 and "warning" not in known.stderr


def test_cli_feedback_refuses_what_http_refuses_and_warns_about_label_counts(
    tmp_path: Path,
) -> None:
    import numpy as np

    from loopline.serving.inference_log import InferenceLog

    log = InferenceLog(tmp_path, 1.0)
    log.offer("two-rows", "m", "1", ("a",), np.asarray([[1.0], [2.0]]), {"predict": np.ones(2)})
    log.flush()

    def feedback(*args: str) -> subprocess.CompletedProcess[str]:
        command = [LOOPLINE, "feedback", *args, "--log-dir", str(tmp_path)]
        return subprocess.run(command, capture_output=True, text=True)

    for label in ("nan", "inf", "Infinity"):
        refused = feedback("req-1", label)
        assert refused.returncode == 2 and "not a finite number" in refused.stderr, label
    bad_id = feedback("a b", "1")
    assert bad_id.returncode == 2 and "is not a request id" in bad_id.stderr
    counted = feedback("two-rows", "true")
    assert counted.returncode == 0, counted.stderr
    assert "request two-rows has 2 row(s) in the inference log but 1 label(s)" in counted.stderr
    table = read_feedback(tmp_path).to_pydict()
    assert table["label"] == [1.0] and table["request_id"] == ["two-rows"]


def test_cli_feedback_outside_a_project_asks_for_the_log_dir(tmp_path: Path) -> None:
    done = subprocess.run(
        [LOOPLINE, "feedback", "req-1", "1"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "no Loopline project" in done.stderr and "--log-dir" in done.stderr
    assert not (tmp_path / ".loopline").exists()
