"""YAML parsed once per content: the value is kept as JSON under ``.loopline/tmp/parsed/``, keyed
by a hash of the text, so commands that only read unchanged files (``status``, a no-op
``repro``) never import PyYAML (a third of their run time).

Only values that survive a JSON round trip unchanged are kept (no dates, no integer keys, no
NaN); anything else is parsed every time. A damaged entry is parsed again and replaced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopline.core.project import DOT_DIR

__all__ = ["parse_once", "parsed_cache_dir"]

_MAX_ENTRIES = 512  # past this, the folder is emptied: entries are cheap to make again
# part of every key: bump it when parsing grows stricter, so text that an older parser accepted
# (a repeated YAML key, say) is checked again rather than served from the cache
_PARSER_VERSION = b"2\n"


def parsed_cache_dir(root: Path) -> Path | None:
    """Where the project at ``root`` keeps parsed files; None outside a project."""
    dot = root / DOT_DIR
    return dot / "tmp" / "parsed" if dot.is_dir() else None


def parse_once(text: str, cache_dir: Path | None, parse: Callable[[str], Any]) -> Any:
    if cache_dir is None:
        return parse(text)
    from blake3 import blake3  # the hash the project already loads; hashlib costs more to import

    entry = cache_dir / (blake3(_PARSER_VERSION + text.encode()).hexdigest()[:40] + ".json")
    try:
        return json.loads(entry.read_bytes())
    except (OSError, ValueError):
        pass
    value = parse(text)
    _remember(entry, value)
    return value


def _remember(entry: Path, value: Any) -> None:
    try:
        encoded = json.dumps(value, allow_nan=False)
        if json.loads(encoded) != value:
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        if sum(1 for _ in entry.parent.iterdir()) > _MAX_ENTRIES:
            for old in entry.parent.iterdir():
                old.unlink(missing_ok=True)
        temp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        temp.write_text(encoded, encoding="utf-8")
        os.replace(temp, entry)
    except (TypeError, ValueError, OSError):
        return  # a cache that cannot be written is only slower
