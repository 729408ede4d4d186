"""Listing runs as people browse them: a ``repro``'s stage runs stay under their pipeline run.

Every stage a ``repro`` runs is recorded as a child run tagged ``loopline.stage``; listed beside
training runs they crowd them out, so a listing leaves them out unless asked (MLflow's UI
likewise folds child runs under their parent). A filter that names the tag asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopline.tracking.entities import Run, ViewType

if TYPE_CHECKING:
    from loopline.tracking.client import TrackingClient

__all__ = ["STAGE_RUN_TAG", "is_stage_run", "list_runs"]

STAGE_RUN_TAG = "loopline.stage"
_PAGE = 1000


def is_stage_run(run: Run) -> bool:
    return STAGE_RUN_TAG in run.data.tags


def list_runs(
    client: TrackingClient,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 100,
    order_by: list[str] | None = None,
    *,
    include_stage_runs: bool = False,
) -> list[Run]:
    """Up to ``max_results`` runs in search order; pipeline stage runs only when asked for."""
    if include_stage_runs or STAGE_RUN_TAG in (filter_string or ""):
        return client.search_runs(experiment_ids, filter_string, view_type, max_results, order_by)[
            0
        ]
    kept: list[Run] = []
    token: str | None = None
    while len(kept) < max_results:
        page, token = client.search_runs(
            experiment_ids, filter_string, view_type, max(max_results, _PAGE), order_by, token
        )
        kept.extend(run for run in page if not is_stage_run(run))
        if not token:
            break
    return kept[:max_results]
