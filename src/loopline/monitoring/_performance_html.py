"""The performance section of a served drift report: metrics of the labelled feedback in the
window against the window before it, and each metric over time (buckets) as a small line."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopline.monitoring.window_performance import WindowPerformance

__all__ = ["performance_html"]

_LINE = "#2f6fde"


def performance_html(performance: WindowPerformance) -> str:
    current, before = performance.current, performance.reference
    change = performance.change()
    lower = set(performance.to_dict()["lower_is_better"])
    share = current.labelled_share
    header = (
        f"<p class='legend'>{current.labelled_rows:,} labelled of {current.logged_rows:,} "
        f"logged rows{f' ({share:.1%})' if share is not None else ''}"
        + ("" if current.ok else f" · {_e(current.message)}")
        + (
            f" · reference window: {before.labelled_rows:,} labelled rows"
            if before
            else " · no labels in the window before this one"
        )
        + "</p>"
    )
    rows = []
    for name, value in current.metrics.items():
        delta = change.get(name)
        worse = delta is not None and (delta > 0 if name in lower else delta < 0)
        shown = "-" if delta is None else f"{delta:+.4f}"
        if delta is not None and delta != 0:
            shown = f"<b class='{'drift' if worse else 'ok'}'>{shown}</b>"
        series = [b.metrics.get(name) for b in current.buckets]
        rows.append(
            f"<tr><td><div class='name'>{_e(name)}</div>"
            f"{'<span class=muted>lower is better</span>' if name in lower else ''}</td>"
            f"<td class='num'>{_fmt(value)}</td>"
            f"<td class='num'>{_fmt(before.metrics.get(name) if before else None)}</td>"
            f"<td class='num'>{shown}</td><td>{_sparkline(series)}</td></tr>"
        )
    span = ""
    if current.buckets:
        first, last = current.buckets[0].start, current.buckets[-1].end
        span = f" ({first:%Y-%m-%d %H:%M} → {last:%H:%M}, {len(current.buckets)} buckets)"
    return (
        "<div class='toolbar'><h2>Performance on labelled feedback</h2></div>"
        + header
        + "<table id='performance'><thead><tr><th>Metric</th><th>This window</th>"
        f"<th>Window before</th><th>Change</th><th>Over time{_e(span)}</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table><br>"
    )


def _sparkline(values: list[float | None], width: int = 220, height: int = 40) -> str:
    points = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not points:
        return "<span class='muted'>too few labels per bucket</span>"
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    spread = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    xy = [(i * step, 4 + (height - 8) * (1 - (v - low) / spread)) for i, v in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2' fill='{_LINE}'/>" for x, y in xy)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img'><title>{_e(f'{low:.4g} .. {high:.4g}')}</title>"
        f"<polyline points='{line}' fill='none' stroke='{_LINE}' stroke-width='1.6'/>{dots}</svg>"
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
