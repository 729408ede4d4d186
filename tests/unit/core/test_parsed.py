"""Parsed YAML is remembered by content, so unchanged files are not parsed (or PyYAML imported)
again; values JSON cannot hold exactly are parsed every time."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

from loopline.core.parsed import parse_once


class CountingParser:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls = 0

    def __call__(self, text: str) -> Any:
        self.calls += 1
        return self.value


def test_unchanged_text_is_parsed_once(tmp_path: Path) -> None:
    parser = CountingParser({"a": [1, 2.5, "x", None, True]})
    for _ in range(3):
        assert parse_once("a: [1, 2.5, x, null, true]", tmp_path, parser) == parser.value
    assert parser.calls == 1
    parse_once("a: 2", tmp_path, CountingParser({"a": 2}))
    assert len(list(tmp_path.glob("*.json"))) == 2  # one entry per content


def test_values_json_would_change_are_parsed_every_time(tmp_path: Path) -> None:
    for value in ({1: "int key"}, {"when": datetime.date(2026, 11, 26)}, {"x": float("nan")}):
        parser = CountingParser(value)
        parse_once(repr(value), tmp_path, parser)
        parse_once(repr(value), tmp_path, parser)
        assert parser.calls == 2, value
    assert not list(tmp_path.glob("*.json"))


def test_a_damaged_entry_is_parsed_again_and_replaced(tmp_path: Path) -> None:
    parse_once("a: 1", tmp_path, CountingParser({"a": 1}))
    (entry,) = tmp_path.glob("*.json")
    entry.write_text("{not json")
    parser = CountingParser({"a": 1})
    assert parse_once("a: 1", tmp_path, parser) == {"a": 1}
    assert parser.calls == 1
    assert entry.read_text() == '{"a": 1}'


def test_without_a_cache_folder_every_call_parses() -> None:
    parser = CountingParser([1])
    parse_once("[1]", None, parser)
    parse_once("[1]", None, parser)
    assert parser.calls == 2


def test_a_repeated_status_never_imports_pyyaml(tmp_path: Path) -> None:
    loopline = str(Path(sys.executable).with_name("loopline"))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "params.yaml").write_text("n: 1\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  copy:\n    cmd: cp data.csv out.csv\n    deps: [data.csv]\n"
        "    params: [n]\n    outs: [out.csv]\n"
    )
    for args in (["init", "-q"], ["add", "data.csv"], ["repro"], ["status"]):
        done = subprocess.run([loopline, *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    probe = (
        "import sys; sys.argv = ['loopline', 'status']; from loopline.cli import main; main(); "
        "print('yaml loaded' if 'yaml' in sys.modules else 'yaml not loaded')"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout and "yaml not loaded" in done.stdout
