"""Reading the small structured files a pipeline names: YAML, JSON and TOML.

Params files, ``vars`` files and metrics files all go through here, so every one of them gets
the same clear error when it is missing or malformed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.yaml_loader import decode_yaml_bytes, describe

__all__ = ["check_metrics", "load_yaml", "parse_data", "read_data", "read_metrics"]


def load_yaml(text: str, name: str, root: Path | None = None, *, hint: str | None = None) -> Any:
    """Parsed YAML (a repeated key refused); with the project ``root``, unchanged text is not
    parsed (or imported) again."""
    from loopline.core.parsed import parse_once, parsed_cache_dir
    from loopline.core.yaml_loader import load_yaml as parse_yaml

    cache = parsed_cache_dir(root) if root is not None else None
    return parse_once(text, cache, lambda t: parse_yaml(t, name, hint=hint))


def parse_data(text: str, name: str, root: Path | None = None) -> Any:
    """The data in ``text``, by the file extension of ``name`` (YAML unless .json/.toml)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_keys(name))
        except InvalidInput:
            raise
        except ValueError as exc:
            raise InvalidInput(f"{name} is not valid JSON: {exc}", hint="fix the file") from None
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{name} is not valid TOML: {exc}", hint="fix the file") from None
    if suffix == ".py":
        raise InvalidInput(
            f"{name}: Python params files are not supported",
            hint="move the values to a .yaml, .json or .toml file",
        )
    return load_yaml(text, name, root)


def _unique_keys(name: str) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise InvalidInput(
                    f"{name}: key '{key}' appears twice in one object",
                    hint="remove or rename one of them: JSON readers keep only the last",
                )
            found[key] = value
        return found

    return build


def read_data(root: Path, relpath: str, *, what: str = "file") -> Any:
    try:
        text = decode_yaml_bytes((root / relpath).read_bytes(), relpath)
    except FileNotFoundError:
        raise NotFound(
            f"{what} {relpath} does not exist", hint=f"create {relpath} or fix the path"
        ) from None
    except IsADirectoryError:
        raise InvalidInput(f"{what} {relpath} is a folder, not a file") from None
    return parse_data(text, relpath, root)


def read_metrics(root: Path, relpath: str) -> Any:
    """A metrics file's data: a mapping of names to values (JSON, YAML or TOML)."""
    return check_metrics(read_data(root, relpath, what="metrics file"), relpath)


def check_metrics(data: Any, name: str) -> Any:
    if not isinstance(data, dict):
        raise InvalidInput(
            f"metrics file {name} holds {describe(data)}, not a mapping of metric names to values",
            hint='write it as JSON ({"acc": 0.9}) or YAML (acc: 0.9)',
        )
    return data
