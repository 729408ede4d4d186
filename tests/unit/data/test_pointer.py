from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopline.core.errors import InvalidInput, LooplineError, NotFound
from loopline.data.pointer import Pointer, find_pointers, read_pointer

GOOD = "outs:\n- path: data\n  hash: blake3\n  oid: {oid}\n  size: 10\n  nfiles: 2\n"


def test_round_trip(tmp_path: Path) -> None:
    pointer = Pointer("sub/data.loopline", "sub/data", "ab" * 32 + ".dir", 10, 2)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.loopline").write_text(pointer.to_yaml())
    assert read_pointer(tmp_path, "sub/data.loopline") == pointer


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("outs: [", "not valid YAML"),
        ("just a string", "exactly one entry"),
        ("outs: []", "exactly one entry"),
        ("outs:\n- 42\n", "must be a mapping"),
        (GOOD.replace("path: data", "path: ../x"), "'path'"),
        (GOOD.replace("hash: blake3", "hash: md5"), "'hash' must be blake3"),
        (GOOD.format(oid="deadbeef"), "'oid'"),
        (GOOD.replace("size: 10", "size: -1"), "'size'"),
        (GOOD.replace("nfiles: 2", "nfiles: many"), "'nfiles'"),
        (GOOD.replace("path: data", "path: other"), "named for"),
    ],
)
def test_hand_edited_nonsense_gets_a_precise_error(
    tmp_path: Path, text: str, complaint: str
) -> None:
    (tmp_path / "data.loopline").write_text(text.format(oid="a" * 64))
    with pytest.raises(InvalidInput, match=complaint) as info:
        read_pointer(tmp_path, "data.loopline")
    assert "git checkout -- data.loopline" in str(info.value.hint)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_text_gives_a_pointer_or_a_loopline_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "data.loopline").write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(LooplineError):
        read_pointer(tmp_path, "data.loopline")


def test_missing_pointer(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="loopline add"):
        read_pointer(tmp_path, "nope.loopline")


def test_find_pointers_skips_tracked_folders_and_tool_caches(tmp_path: Path) -> None:
    for rel in (
        "a.loopline",
        "data/inner.loopline",
        "x/y/z.loopline",
        ".venv/v.loopline",
        ".git/g.loopline",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "data.loopline").write_text("")
    assert sorted(find_pointers(tmp_path)) == ["a.loopline", "data.loopline", "x/y/z.loopline"]
