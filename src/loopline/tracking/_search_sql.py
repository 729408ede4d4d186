"""Turning parsed search filters and orderings into SQLAlchemy clauses over the runs table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, true
from sqlalchemy.sql import Select

from loopline.store._schema import latest_metrics, params, run_tags, runs
from loopline.tracking.search import Comparison, OrderBy

__all__ = ["apply_order", "where_clause"]

_OPS: dict[str, Any] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    "LIKE": lambda c, v: c.like(v),
    "ILIKE": lambda c, v: func.lower(c).like(func.lower(v)),
    "IN": lambda c, v: c.in_(v),
    "NOT IN": lambda c, v: c.not_in(v),
}


def _compare(column: Any, c: Comparison) -> ColumnElement[bool]:
    return _OPS[c.op](column, c.value)  # type: ignore[no-any-return]


def _clause(c: Comparison) -> ColumnElement[bool]:
    if c.entity == "attribute":
        column = runs.c.start_time if c.key == "start_time" else runs.c[c.key]
        return _compare(column, c)
    if c.entity == "metric":
        table: Any = latest_metrics
        value_clause = and_(_compare(table.c.value, c), table.c.is_nan.is_(False))
    else:
        table = params if c.entity == "param" else run_tags
        value_clause = _compare(table.c.value, c)
    # As in MLflow, a run without the key matches no comparison on it, not even != or NOT IN.
    return exists().where(table.c.run_id == runs.c.run_id, table.c.key == c.key, value_clause)


def where_clause(comparisons: list[Comparison]) -> ColumnElement[bool]:
    if not comparisons:
        return true()
    return and_(*(_clause(c) for c in comparisons))


def apply_order(query: Select[Any], orders: list[OrderBy]) -> Select[Any]:
    """Order by the requested keys (runs missing a key sort last), then newest first."""
    for index, order in enumerate(orders):
        if order.entity == "attribute":
            column: Any = runs.c[order.key]
        else:
            table: Any = {"metric": latest_metrics, "param": params, "tag": run_tags}[order.entity]
            alias = table.alias(f"order_{index}")
            query = query.outerjoin(
                alias, and_(alias.c.run_id == runs.c.run_id, alias.c.key == order.key)
            )
            column = alias.c.value
        query = query.order_by(column.is_(None), column.asc() if order.ascending else column.desc())
    return query.order_by(runs.c.start_time.desc(), runs.c.run_id)
