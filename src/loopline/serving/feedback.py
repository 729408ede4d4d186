"""Ground-truth feedback as clients send it: the checks ``POST /feedback`` and
``loopline feedback`` share, and the warnings about labels that cannot line up with the logged
request they name.

A feedback item is ``{"request_id": ..., "label": ...}`` (or ``"labels": [...]``, one per row of
the request). Labels are numbers, text, ``true``/``false`` or null; ``true``/``false`` are stored
as 1/0 so they match the 0/1 predictions of a classifier.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.serving.inference_log import FeedbackEntry, logged_row_counts

__all__ = ["REQUEST_ID", "feedback_entry", "label_count_warnings", "parse_feedback"]

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")  # \Z: no trailing newline
_FIELDS = frozenset({"request_id", "label", "labels"})
_ID_HELP = (
    'feedback needs "request_id" (the x-request-id of a served request: up to 128 '
    'letters, digits or ._:-) and "label" or "labels"'
)


def parse_feedback(body: bytes) -> list[FeedbackEntry]:
    """A JSON body: one feedback item or a list of them."""
    import orjson

    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    entries = [_entry_of(item) for item in items]
    if not entries:
        raise InvalidInput("no feedback given")
    return entries


def _entry_of(item: Any) -> FeedbackEntry:
    request_id = item.get("request_id") if isinstance(item, dict) else None
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise InvalidInput(_ID_HELP, hint='e.g. {"request_id": "3f2a...", "label": 1}')
    assert isinstance(item, dict)
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"feedback for {request_id} has unknown field(s) {', '.join(unknown)}",
            hint='give "request_id" and "label", or "labels" with one label per row',
        )
    if isinstance(item.get("labels"), list) and item["labels"]:
        labels = tuple(item["labels"])
    elif "label" in item:
        labels = (item["label"],)
    else:
        raise InvalidInput(f'feedback for {request_id} has no "label" or "labels"')
    return feedback_entry(request_id, labels)


def feedback_entry(request_id: str, labels: Sequence[Any]) -> FeedbackEntry:
    """One checked feedback entry; ``true``/``false`` become 1/0."""
    if not REQUEST_ID.match(request_id):
        raise InvalidInput(f"{request_id!r} is not a request id", hint=_ID_HELP)
    if not labels:
        raise InvalidInput(f"feedback for {request_id} has no label")
    checked: list[Any] = []
    for label in labels:
        if isinstance(label, bool):
            checked.append(int(label))
        elif isinstance(label, float) and not math.isfinite(label):
            raise InvalidInput(
                f"feedback for {request_id}: {label!r} is not a label (not a finite number)",
                hint="send the observed outcome, or null when it is unknown",
            )
        elif label is None or isinstance(label, int | float | str):
            checked.append(label)
        else:
            raise InvalidInput(
                f"feedback for {request_id}: a label must be a number, text, true/false or null",
                hint='use "labels": [...] for one label per row of the request',
            )
    return FeedbackEntry(request_id, tuple(checked))


def label_count_warnings(root: Path, entries: Sequence[FeedbackEntry]) -> list[str]:
    """A warning for each entry whose request is logged with a different number of rows than
    it has labels (those labels cannot line up with the request's predictions)."""
    rows = logged_row_counts(root, [e.request_id for e in entries])
    return [
        f"request {e.request_id} has {rows[e.request_id]} row(s) in the inference log but "
        f"{len(e.labels)} label(s) were given; give one label per row"
        for e in entries
        if e.request_id in rows and rows[e.request_id] != len(e.labels)
    ]
