"""Time spans given on the command line: durations like ``90s``, ``15m``, ``1h``, ``7d``, ``2w``
and points in time as ISO 8601 (``2026-12-01T10:00``, ``2026-12-01``; UTC unless an offset is
given)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from loopline.core.errors import InvalidInput

__all__ = ["parse_duration", "parse_instant", "resolve_window"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise InvalidInput(
            f"{what} {text!r} is not a positive duration",
            hint="write a number and a unit: 90s, 15m, 1h, 7d or 2w",
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_instant(text: str, *, what: str = "time") -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{what} {text!r} is not an ISO 8601 date or time",
            hint="write e.g. 2026-12-01T10:00 (UTC) or 2026-12-01T10:00+01:00",
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def resolve_window(
    window: str | None,
    since: str | None,
    until: str | None,
    *,
    delay: str | None = None,
    now: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` of a window: the last ``window`` before now (shifted back by ``delay``,
    so that labels had time to arrive), or ``since``/``until``; ``(None, None)`` is all time."""
    if window is not None and (since is not None or until is not None):
        raise InvalidInput(
            "--window and --since/--until both choose the window",
            hint="give either --window 1h or --since T [--until T]",
        )
    end = parse_instant(until, what="--until") if until is not None else None
    start = parse_instant(since, what="--since") if since is not None else None
    if window is not None:
        end = (now or datetime.now(UTC)) - (
            parse_duration(delay, what="--delay") if delay else timedelta(0)
        )
        start = end - parse_duration(window, what="--window")
    elif delay is not None:
        raise InvalidInput("--delay only shifts a --window", hint="add --window 1h")
    if start is not None and end is not None and start >= end:
        raise InvalidInput(
            f"the window starts ({start.isoformat()}) at or after it ends ({end.isoformat()})",
            hint="give --since before --until",
        )
    return start, end
