"""The registry's search filters: ``name LIKE 'churn%' AND tags.team = 'ml'``.

As in MLflow, ``tags.k != 'v'`` also matches models without the tag (the mlflow client appends
``tag.`mlflow.prompt.is_prompt` != 'true'`` to every model search and expects that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopline.core.errors import InvalidInput

__all__ = ["RegistryClause", "parse_registry_filter"]

_CLAUSE = re.compile(
    r"""^\s*(?P<key>(?:tags?\.(?:`[^`]+`|"[^"]+"|[\w.\-]+))|name|run_id|source_path|version_number)
        \s*(?P<op>!=|=|LIKE|ILIKE|like|ilike)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\d+)\s*$""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class RegistryClause:
    field: str  # "name", "run_id", "source_path", "version_number" or "tag"
    key: str | None
    op: str
    value: str


def parse_registry_filter(text: str | None) -> list[RegistryClause]:
    if not text or not text.strip():
        return []
    clauses = []
    for part in _split(text):
        match = _CLAUSE.match(part)
        if not match:
            raise InvalidInput(
                f"invalid registry filter clause {part.strip()!r}",
                hint="use name = 'x', name LIKE 'x%', run_id = '...' or tags.key = 'v', "
                "joined by AND",
            )
        key, op, raw = match["key"], match["op"].upper(), match["value"]
        value = raw[1:-1] if raw[0] in "'\"" else raw
        if key.startswith(("tag.", "tags.")):
            tag = key.split(".", 1)[1].strip('`"')
            clauses.append(RegistryClause("tag", tag, op, value))
        else:
            clauses.append(RegistryClause(key, None, op, value))
    return clauses


def _split(text: str) -> list[str]:
    """Split on AND outside quotes."""
    parts, current, quote = [], "", ""
    tokens = re.split(r"(\s+AND\s+|['\"`])", text, flags=re.IGNORECASE)
    for token in tokens:
        if token in ("'", '"', "`"):
            quote = "" if quote == token else (quote or token)
            current += token
        elif _AND.fullmatch(token) and not quote:
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    return parts
