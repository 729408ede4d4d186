from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopline.core.errors import IntegrityError
from loopline.core.hashing import MULTITHREAD_THRESHOLD, hash_bytes, hash_file, is_hash
from loopline.objects.manifest import Manifest, ManifestEntry


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096))
def test_file_hash_equals_bytes_hash(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(data)
    assert hash_file(path) == hash_bytes(data)
    assert is_hash(hash_file(path))


@pytest.mark.parametrize("size", [1024 * 1024 + 7, MULTITHREAD_THRESHOLD + 13])
def test_big_files_hash_the_same_through_mmap_and_threads(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "big"
    path.write_bytes(data)
    assert hash_file(path) == hash_bytes(data)


relpaths = st.lists(
    st.text("abcxyz_-.", min_size=1, max_size=8).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=3,
).map("/".join)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        relpaths,
        st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 2**40), st.booleans()),
        max_size=20,
    )
)
def test_manifest_round_trips_and_id_is_order_independent(
    entries: dict[str, tuple[bytes, int, bool]],
) -> None:
    items = [ManifestEntry(p, h.hex(), s, x) for p, (h, s, x) in entries.items()]
    forward = Manifest.from_entries(items)
    backward = Manifest.from_entries(reversed(items))
    assert forward.oid == backward.oid
    assert forward.oid.endswith(".dir")
    assert Manifest.from_bytes(forward.to_bytes(), source="t") == forward
    assert forward.size == sum(e.size for e in items)


@pytest.mark.parametrize(
    "rows",
    [
        b"not json",
        b'[{"relpath": "a"}]',
        json.dumps([{"relpath": "../escape", "hash": "a" * 64, "size": 1}]).encode(),
        json.dumps([{"relpath": "/abs", "hash": "a" * 64, "size": 1}]).encode(),
        json.dumps([{"relpath": "a", "hash": "nothex", "size": 1}]).encode(),
    ],
)
def test_tampered_manifests_are_rejected(rows: bytes) -> None:
    with pytest.raises(IntegrityError, match="manifest"):
        Manifest.from_bytes(rows, source="m.dir")
