"""MLflow's run-search grammar: ``metrics.acc > 0.8 and params.lr = '0.01' and tags.x LIKE '%y%'``.

Parsing only; :mod:`loopline.tracking._search_sql` turns the result into SQL. Keys may be
quoted with backticks or double quotes (``metrics.`f1 score` > 0.5``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from loopline.core.errors import InvalidInput

__all__ = ["Comparison", "OrderBy", "parse_filter", "parse_order_by"]

EntityType = Literal["metric", "param", "tag", "attribute"]

_ENTITY_ALIASES: dict[str, EntityType] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})
STRING_ATTRIBUTES = frozenset(
    {"run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage"}
)
_ATTRIBUTE_ALIASES = {"created": "start_time", "Created": "start_time", "run_uuid": "run_id"}

_NUMERIC_OPS = ("=", "!=", ">", ">=", "<", "<=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<op>!=|>=|<=|=|>|<)
      | (?P<paren>[(),])
      | (?P<word>(?:`[^`]*`|[\w:/\-]+)(?:\.(?:`[^`]*`|"[^"]*"|[\w.:/\-]+))?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    entity: EntityType
    key: str
    op: str  # one of =, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN
    value: float | str | tuple[str, ...]


@dataclass(frozen=True)
class OrderBy:
    entity: EntityType
    key: str
    ascending: bool


def _bad(filter_string: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid search filter {filter_string!r}: {why}",
        hint="write clauses like metrics.acc > 0.8 and params.lr = '0.01', joined by AND",
    )


def _bad_order(clause: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid order_by {clause!r}: {why}",
        hint="write KEY [ASC|DESC], such as metrics.acc DESC, params.lr, tags.team or "
        "attributes.start_time ASC",
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _bad(text, f"unexpected text at {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


def _identifier(
    word: str, source: str, bad: Callable[[str, str], InvalidInput] = _bad
) -> tuple[EntityType, str]:
    head, dot, rest = word.partition(".")
    if head.startswith("`") or not dot or head not in _ENTITY_ALIASES:
        entity: EntityType = "attribute"
        key = word
    else:
        entity, key = _ENTITY_ALIASES[head], rest
    key = _unquote_key(key)
    if not key:
        raise bad(source, f"{word!r} names no key")
    if entity == "attribute":
        key = _ATTRIBUTE_ALIASES.get(key, key)
        if key not in NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES:
            known = ", ".join(sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES - {"Created"}))
            raise bad(source, f"unknown attribute {key!r} (attributes: {known})")
    return entity, key


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in '`"':
        return key[1:-1]
    return key


def _string(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """The AND-ed comparisons of a filter; an empty filter matches every run."""
    if not filter_string or not filter_string.strip():
        return []
    tokens = _tokens(filter_string)
    clauses: list[Comparison] = []
    pos = 0
    while True:
        clause, pos = _clause(tokens, pos, filter_string)
        clauses.append(clause)
        if pos == len(tokens):
            return clauses
        kind, text = tokens[pos]
        if kind != "word" or text.upper() != "AND":
            raise _bad(filter_string, f"expected AND, found {text!r} (OR is not supported)")
        pos += 1
        if pos == len(tokens):
            raise _bad(filter_string, "it ends with AND")


def _clause(tokens: list[tuple[str, str]], pos: int, source: str) -> tuple[Comparison, int]:
    if pos >= len(tokens) or tokens[pos][0] != "word":
        raise _bad(source, "expected a key such as metrics.acc")
    entity, key = _identifier(tokens[pos][1], source)
    pos += 1
    op, pos = _operator(tokens, pos, source)
    raw = ""
    if op in ("IN", "NOT IN"):
        values, pos = _value_list(tokens, pos, source)
        value: float | str | tuple[str, ...] = values
    else:
        if pos >= len(tokens) or tokens[pos][0] not in ("string", "number"):
            raise _bad(source, f"expected a value after {op}")
        kind, text = tokens[pos]
        value = float(text) if kind == "number" else _string(text)
        pos += 1
        raw = text
    return _checked(Comparison(entity, key, op, value), source, raw), pos


def _is_numeric(entity: EntityType, key: str) -> bool:
    return entity == "metric" or (entity == "attribute" and key in NUMERIC_ATTRIBUTES)


def _operator(tokens: list[tuple[str, str]], pos: int, source: str) -> tuple[str, int]:
    if pos >= len(tokens):
        raise _bad(source, "expected a comparison operator")
    kind, text = tokens[pos]
    if kind == "op":
        return text, pos + 1
    upper = text.upper()
    if kind == "word" and upper in ("LIKE", "ILIKE", "IN"):
        return upper, pos + 1
    if (
        kind == "word"
        and upper == "NOT"
        and pos + 1 < len(tokens)
        and tokens[pos + 1][1].upper() == "IN"
    ):
        return "NOT IN", pos + 2
    raise _bad(source, f"{text!r} is not a comparison operator")


def _value_list(
    tokens: list[tuple[str, str]], pos: int, source: str
) -> tuple[tuple[str, ...], int]:
    if pos >= len(tokens) or tokens[pos][1] != "(":
        raise _bad(source, "IN needs a parenthesised list such as ('a', 'b')")
    pos += 1
    values: list[str] = []
    while pos < len(tokens):
        kind, text = tokens[pos]
        if kind != "string":
            raise _bad(source, f"IN lists hold quoted strings, found {text!r}")
        values.append(_string(text))
        pos += 1
        if pos < len(tokens) and tokens[pos][1] == ",":
            pos += 1
            continue
        if pos < len(tokens) and tokens[pos][1] == ")":
            return tuple(values), pos + 1
        break
    raise _bad(source, "unclosed IN list")


def _checked(c: Comparison, source: str, raw: str) -> Comparison:
    """``c`` if its operator and value suit its key; ``raw`` is the value as the user typed it."""
    if _is_numeric(c.entity, c.key):
        if c.op not in _NUMERIC_OPS:
            raise _bad(source, f"{c.entity} {c.key!r} takes {', '.join(_NUMERIC_OPS)}, not {c.op}")
        if not isinstance(c.value, float):
            raise _bad(source, f"{c.entity} {c.key!r} is compared with a number, got {c.value!r}")
        return c
    if c.op not in _STRING_OPS:
        raise _bad(source, f"{c.entity} {c.key!r} takes {', '.join(_STRING_OPS)}, not {c.op}")
    if isinstance(c.value, float):
        raise _bad(
            source,
            f"{c.entity} {c.key!r} holds text and is compared with a quoted string, got {raw} "
            f"(write {c.entity}s.{c.key} {c.op} '{raw}')",
        )
    return c


def parse_order_by(clauses: list[str] | None) -> list[OrderBy]:
    """``["metrics.acc DESC", "params.lr"]`` → orderings (ascending unless DESC)."""
    orders: list[OrderBy] = []
    for clause in clauses or []:
        if not clause.strip():
            raise _bad_order(clause, "it is empty")
        parts = clause.strip().rsplit(None, 1)
        direction = "ASC"
        if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
            ident, direction = parts[0], parts[1].upper()
        else:
            ident = clause.strip()
        entity, key = _identifier(ident, clause, _bad_order)
        orders.append(OrderBy(entity, key, direction == "ASC"))
    return orders
