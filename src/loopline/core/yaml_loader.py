"""The one YAML reader of every file Loopline reads: pipeline, params, lock, config, pointers.

PyYAML's safe loader keeps the last of two equal keys in a mapping and drops the first without a
word (two stages named ``train`` in ``dvc.yaml`` → one of them silently gone). This loader is the
same safe loader (the C one when PyYAML has it) that refuses a mapping with a repeated key,
naming the file, the line and the key. Merge keys (``<<: *base``) may still be overridden.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = ["compose_yaml", "load_yaml", "load_yaml_documents"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


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

    return _guarded(lambda: yaml.load(text, Loader=_loader()), name, hint, error)


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
        lambda: list(yaml.load_all(text, Loader=_loader())), name, hint, error
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
                _check_tree(loader, node)
            return node
        finally:
            loader.dispose()

    return _guarded(parse, name, hint, error)


def _check_tree(loader: Any, node: Any) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        _check_unique(loader, node)
        for key_node, value in node.value:
            _check_tree(loader, key_node)
            _check_tree(loader, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_tree(loader, item)


def _guarded(
    parse: Callable[[], Any], name: str, hint: str | None, error: type[InvalidInput]
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
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["bad input"])[0]
        raise error(
            f"{name} is not valid YAML{where}: {problem}", hint=hint or "fix the syntax"
        ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


@cache
def _loader() -> Any:
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc]
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
