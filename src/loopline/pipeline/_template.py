"""``${...}`` templating: looking names up in the context and rendering stage fields.

A value that is exactly ``${name}`` keeps the type of what it names (a list for ``foreach``, a
number for a flag); inside a longer string a scalar is written out, and a mapping inside ``cmd``
becomes ``--key value`` flags. ``\\${`` stands for a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = ["TemplateError", "has_template", "lookup", "parse_name", "render", "to_text"]

_PLACEHOLDER = re.compile(r"(\\)?\$\{([^}]*)\}")
_NAME_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[\s*(-?\d+|[A-Za-z_][A-Za-z0-9_-]*)\s*\]")


class TemplateError(InvalidInput):
    """A ``${...}`` that names nothing, or names something that cannot go where it is used."""


def has_template(text: str) -> bool:
    return "${" in text


def parse_name(name: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` → ``("a", "b", 0, "c")``; raises ValueError on malformed names."""
    text = name.strip()
    parts: list[str | int] = []
    pos = 0
    expect_name = True
    while pos < len(text):
        if expect_name:
            match = _NAME_PART.match(text, pos)
            if match is None:
                raise ValueError(f"malformed name {name!r}")
            parts.append(match.group())
            pos = match.end()
            expect_name = False
        elif text[pos] == ".":
            pos += 1
            expect_name = True
        else:
            index = _INDEX.match(text, pos)
            if index is None:
                raise ValueError(f"malformed name {name!r}")
            key = index.group(1)
            parts.append(int(key) if key.lstrip("-").isdigit() else key)
            pos = index.end()
    if expect_name:
        raise ValueError(f"malformed name {name!r}")
    return tuple(parts)


def lookup(context: Mapping[str, Any], name: str) -> Any:
    """The value ``name`` refers to; KeyError naming the first missing part."""
    try:
        parts = parse_name(name)
    except ValueError as exc:
        raise KeyError(str(exc)) from None
    value: Any = context
    for i, part in enumerate(parts):
        if isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value):
            value = value[part]
        elif isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        else:
            missing = f" (no '{part}' in {_show(parts[:i])})" if i else ""
            raise KeyError(f"${{{_show(parts)}}} is not defined{missing}")
    return value


def _show(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def render(value: Any, context: Mapping[str, Any], where: str, *, flags: bool = False) -> Any:
    """``value`` with every ``${...}`` replaced; ``where`` names the field for error messages.

    ``flags`` (for ``cmd``) writes a mapping as ``--key value`` flags.
    """
    if isinstance(value, str):
        return _render_text(value, context, where, flags)
    if isinstance(value, list):
        return [render(v, context, where, flags=flags) for v in value]
    if isinstance(value, dict):
        return {
            _render_key(k, context, where): render(v, context, f"{where}.{k}", flags=flags)
            for k, v in value.items()
        }
    return value


def _render_key(key: Any, context: Mapping[str, Any], where: str) -> Any:
    if isinstance(key, str) and "${" in key:
        return str(_render_text(key, context, where, False))
    return key


def _render_text(text: str, context: Mapping[str, Any], where: str, flags: bool) -> Any:
    if "${" not in text:
        return text
    whole = _PLACEHOLDER.fullmatch(text)
    if whole is not None and whole.group(1) is None:
        value = _value(context, whole.group(2), where)
        return _flags(value) if flags and isinstance(value, dict) else value

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]  # an escaped \${...} stays literally
        value = _value(context, match.group(2), where)
        if isinstance(value, dict) and flags:
            return _flags(value)
        if isinstance(value, dict | list):
            raise TemplateError(
                f"{where}: ${{{match.group(2).strip()}}} is a {type(value).__name__} and "
                "cannot be written inside a string",
                hint="use a key that holds a single value, e.g. ${name.key}",
            )
        return to_text(value)

    return _PLACEHOLDER.sub(substitute, text)


def _value(context: Mapping[str, Any], name: str, where: str) -> Any:
    try:
        return lookup(context, name)
    except KeyError as exc:
        known = ", ".join(sorted(str(k) for k in context)) or "none"
        raise TemplateError(
            f"{where}: {exc.args[0]}",
            hint=f"define it in params.yaml or under 'vars:' (defined at the top: {known})",
        ) from None


def to_text(value: Any) -> str:
    """A scalar as it appears in a rendered string (YAML spelling for booleans and null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _flags(mapping: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{key}")
        elif isinstance(value, list):
            parts.append(f"--{key} " + " ".join(to_text(v) for v in value))
        elif value is not None:
            parts.append(f"--{key} {to_text(value)}")
    return " ".join(parts)
