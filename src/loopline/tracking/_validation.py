"""Checks on what users log: names, lengths and metric values, with messages that say the fix."""

from __future__ import annotations

import math
import re

from loopline.core.errors import InvalidInput

__all__ = [
    "MAX_KEY",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "check_key",
    "check_param_value",
    "check_tag_value",
    "metric_value",
    "restore_experiment_hint",
]

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
# The characters MLflow accepts in names, so keys travel between the two unchanged.
_KEY = re.compile(r"^[/\w.\- :]*$")


def check_key(kind: str, key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{kind} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY:
        raise InvalidInput(
            f"{kind} key {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY}",
            hint="use a shorter name",
        )
    if not _KEY.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidInput(
            f"{kind} key {key!r} has characters that are not allowed",
            hint="use letters, digits, underscores, dashes, periods, spaces, colons and slashes",
        )
    return key


def _check_length(kind: str, key: str, value: object, limit: int) -> str:
    text = str(value)
    if len(text) > limit:
        raise InvalidInput(
            f"{kind} {key!r} has a value of {len(text)} characters; the limit is {limit}",
            hint="log long values as an artifact (log_dict / log_text) instead",
        )
    return text


def check_param_value(key: str, value: object) -> str:
    return _check_length("param", key, value, MAX_PARAM_VALUE)


def check_tag_value(key: str, value: object) -> str:
    return _check_length("tag", key, value, MAX_TAG_VALUE)


def metric_value(key: str, value: object) -> float:
    """A float for any real number (NaN and ±inf included); anything else is refused."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        # The REST wire format spells NaN and the infinities as strings; numbers stay numbers.
        lowered = value.strip().lower()
        if lowered in ("nan", "inf", "+inf", "infinity", "-inf", "-infinity"):
            return float(lowered)
    try:
        if isinstance(value, str):
            raise ValueError(value)  # numbers in text are refused, as MLflow does
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"metric {key!r} got a non-numeric value {value!r}",
            hint="metrics are numbers; log text as a tag or a param",
        ) from None
    if math.isnan(number):
        return math.nan
    return number


def restore_experiment_hint(name: str) -> str:
    """How to bring back a deleted experiment, as a command that works."""
    import shlex

    return (
        f"restore it with `loopline experiments restore {shlex.quote(name)}`, "
        "or use another experiment"
    )
