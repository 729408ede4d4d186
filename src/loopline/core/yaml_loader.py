"""The one YAML reader of every file Loopline reads: pipeline, params, lock, config, pointers.

PyYAML's safe loader keeps the last of two equal keys in a mapping and drops the first without a
word (two stages named ``train`` in ``dvc.yaml`` → one of them silently gone). This loader is the
same safe loader (the C one when PyYAML has it) that refuses a mapping with a repeated key,
naming the file, the line and the key. Merge keys (``<<: *base``) may still be overridden.

It also refuses what would hang or crash a command later: a document whose aliases expand to
more than ``MAX_ALIAS_EXPANSION`` values (the "billion laughs" file: a few hundred bytes that
become a billion values once written out), and, through :func:`read_yaml_text`, a file that is
not UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "compose_yaml",
    "describe",
    "load_yaml",
    "load_yaml_documents",
    "read_yaml_text",
]

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: values that aliases may add to a document once expanded; hand-written files use a handful
MAX_ALIAS_EXPANSION = 1_000_000


def read_yaml_text(
    path: Path, name: str | None = None, *, error: type[InvalidInput] = InvalidInput
) -> str:
    """The text of the YAML file at ``path``; ``error`` naming the first bad byte when it is not
    UTF-8 (``FileNotFoundError`` and other ``OSError`` pass through)."""
    return decode_yaml_bytes(path.read_bytes(), name or str(path), error=error)


def decode_yaml_bytes(data: bytes, name: str, *, error: type[InvalidInput] = InvalidInput) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save it as UTF-8 (the encoding YAML files use), or restore it from git",
        ) from None


def describe(value: Any) -> str:
    """What a parsed value is, in words: "a number", "a list", "nothing"..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def load_yaml(
    text: str,
    name: str,
    *,
    hint: str | None = None,
    error: type[InvalidInput] = InvalidInput,
) -> Any:
    """The data in the YAML ``text`` of the file ``name``; ``error`` (with ``hint``) when it is
    not valid YAML or a mapping repeats a key."""
    import yaml

    return _guarded(lambda: yaml.load(text, Loader=_loader()), text, name, hint, error)


def load_yaml_documents(
    text: str,
    name: str,
    *,
    hint: str | None = None,
    error: type[InvalidInput] = InvalidInput,
) -> list[Any]:
    """Every document of a ``---``-separated YAML stream (Kubernetes manifests), checked alike."""
    import yaml

    documents: list[Any] = _guarded(
        lambda: list(yaml.load_all(text, Loader=_loader())), text, name, hint, error
    )
    return documents


def compose_yaml(
    text: str,
    name: str,
    *,
    hint: str | None = None,
    error: type[InvalidInput] = InvalidInput,
) -> Any:
    """The node tree of ``text`` (positions of keys and values), for editing a file as text
    while keeping its comments; a repeated key is refused as :func:`load_yaml` refuses it."""

    def parse() -> Any:
        loader = _loader()(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node)
                _check_tree(loader, node, set())
            return node
        finally:
            loader.dispose()

    return _guarded(parse, text, name, hint, error)


def _check_tree(loader: Any, node: Any, seen: set[int]) -> None:
    import yaml

    if id(node) in seen:  # an alias: its anchor was checked already
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        _check_unique(loader, node)
        for key_node, value in node.value:
            _check_tree(loader, key_node, seen)
            _check_tree(loader, value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_tree(loader, item, seen)


def _guarded(
    parse: Callable[[], Any], text: str, name: str, hint: str | None, error: type[InvalidInput]
) -> Any:
    import yaml

    try:
        return parse()
    except _DuplicateKey as dup:
        raise error(
            f"{name}, line {dup.line}: key '{dup.key}' appears twice (first at line {dup.first})",
            hint="remove or rename one of them: YAML would keep only the last and silently "
            "drop the other",
        ) from None
    except _TooManyValues as big:
        raise error(
            f"{name}: its aliases (*name) expand to more than {MAX_ALIAS_EXPANSION:,} values "
            f"(at line {big.line}), so it was not read",
            hint="write the values out instead of nesting aliases within aliases",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["bad input"])[0]
        if _tab_at(text, mark) or "tab character" in problem:
            problem = "a tab character, which YAML does not allow for indentation"
            hint = "indent with spaces instead of tabs"
        raise error(
            f"{name} is not valid YAML{where}: {problem}", hint=hint or "fix the syntax"
        ) from None


def _tab_at(text: str, mark: Any) -> bool:
    """Whether the parser stopped on a tab (the C parser does not say what it found)."""
    lines = text.splitlines()
    if mark is None or mark.line >= len(lines):
        return False
    return bool(lines[mark.line][mark.column : mark.column + 1] == "\t")


class _TooManyValues(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


@cache
def _loader() -> Any:
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc]
        def construct_document(self, node: Any) -> Any:
            _check_expansion(node)
            return super().construct_document(node)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            _check_unique(self, node)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _check_unique(loader: Any, node: Any) -> None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: PyYAML reports it
            continue
        line = key_node.start_mark.line + 1
        if first is not None:
            raise _DuplicateKey(str(key), line, first)
        seen[key] = line


def _check_expansion(root: Any) -> None:
    """Raise when the document's aliases add more than ``MAX_ALIAS_EXPANSION`` values.

    An alias is the same node object as its anchor, so the node graph is small, but every
    consumer that walks the data (flattening params, writing JSON) visits each alias in full.
    Sizes are memoized per node, so this is linear in the size of the file."""
    import yaml

    sizes: dict[int, int] = {}
    distinct: set[int] = set()

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        distinct.add(id(node))
        sizes[id(node)] = 1  # a recursive alias counts once
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total - len(distinct) > MAX_ALIAS_EXPANSION:
            raise _TooManyValues(node.start_mark.line + 1)
        sizes[id(node)] = total
        return total

    size(root)
