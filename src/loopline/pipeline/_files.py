"""Reading the small structured files a pipeline names: YAML, JSON and TOML.

Params files, ``vars`` files and metrics files all go through here, so every one of them gets
the same clear error when it is missing or malformed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound

__all__ = ["load_yaml", "parse_data", "read_data"]


def load_yaml(text: str, name: str, root: Path | None = None) -> Any:
    """Parsed YAML; with the project ``root``, unchanged text is not parsed (or imported) again."""
    from loopline.core.parsed import parse_once, parsed_cache_dir

    cache = parsed_cache_dir(root) if root is not None else None
    return parse_once(text, cache, lambda t: _parse_yaml(t, name))


def _parse_yaml(text: str, name: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(
            f"{name} is not valid YAML{where}: {problem}",
            hint="fix the syntax; note that ${...} inside [a, b] lists must be quoted",
        ) from None


def parse_data(text: str, name: str, root: Path | None = None) -> Any:
    """The data in ``text``, by the file extension of ``name`` (YAML unless .json/.toml)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text)
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


def read_data(root: Path, relpath: str, *, what: str = "file") -> Any:
    try:
        text = (root / relpath).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(
            f"{what} {relpath} does not exist", hint=f"create {relpath} or fix the path"
        ) from None
    except IsADirectoryError:
        raise InvalidInput(f"{what} {relpath} is a folder, not a file") from None
    return parse_data(text, relpath, root)
