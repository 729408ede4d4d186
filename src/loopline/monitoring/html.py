"""A drift report as one self-contained HTML file: inline CSS and SVG, no network at view time.

The summary comes first (verdict, share of drifted columns, the worst columns), then one row per
column with its test, value, threshold and a small plot of the reference against the current
distribution. The report's JSON is embedded too, so a script can read the file back.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loopline.monitoring._columns import Plot
from loopline.monitoring._performance_html import performance_html
from loopline.monitoring.drift import ColumnDrift, DriftReport

if TYPE_CHECKING:
    from loopline.monitoring.window_performance import WindowPerformance

__all__ = ["render_html"]

REF_COLOUR = "#9aa5b1"
CUR_COLOUR = "#2f6fde"
DRIFT_COLOUR = "#d64545"
OK_COLOUR = "#2f9e6e"

_CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;
--drift:#d64545;--ok:#2f9e6e;--ref:#9aa5b1;--cur:#2f6fde}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);background:var(--bg)}
header{background:#102a43;color:#f0f4f8;padding:18px 32px}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#9fb3c8;font-size:13px;margin-top:4px}
header .brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#829ab1}
main{padding:24px 32px;max-width:1400px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:16px;margin-bottom:24px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px}
.card h2{margin:0 0 8px;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;
letter-spacing:.06em}
.big{font-size:28px;font-weight:700}
.drift{color:var(--drift)}.ok{color:var(--ok)}
.meter{position:relative;height:8px;background:var(--line);border-radius:4px;margin-top:10px}
.meter span{position:absolute;left:0;top:0;bottom:0;border-radius:4px}
.meter i{position:absolute;top:-4px;bottom:-4px;width:2px;background:var(--ink)}
.muted{color:var(--muted)}
.worst{margin:0;padding:0;list-style:none}
.worst li{display:flex;justify-content:space-between;gap:8px;padding:2px 0}
.worst b{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);
border-radius:8px;overflow:hidden}
th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;
letter-spacing:.05em;padding:10px 12px;border-bottom:1px solid var(--line);background:#fafbfc}
td{padding:10px 12px;border-bottom:1px solid var(--line);vertical-align:middle}
tr:last-child td{border-bottom:0}
tr.drifted td:first-child{box-shadow:inset 3px 0 0 var(--drift)}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.name{font-weight:600}
.tag{display:inline-block;font-size:11px;padding:1px 7px;border-radius:10px;background:#eef2f7;
color:var(--muted)}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:2px 9px;border-radius:10px}
.badge.drift{background:#fde8e8;color:var(--drift)}.badge.ok{background:#e3f6ee;color:var(--ok)}
.note{font-size:12px;color:var(--muted);max-width:260px}
.legend{font-size:12px;color:var(--muted);margin:0 0 8px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;
vertical-align:-1px}
.toolbar{display:flex;justify-content:space-between;align-items:center;margin:0 0 10px}
.toolbar h2{font-size:16px;margin:0}
label{font-size:13px;color:var(--muted);cursor:pointer}
body.only-drifted tr.stable{display:none}
footer{padding:16px 32px 32px;color:var(--muted);font-size:12px}
svg text{font:10px system-ui,sans-serif;fill:#52606d}
"""

_SCRIPT = """
document.getElementById('only-drifted').addEventListener('change',function(e){
document.body.classList.toggle('only-drifted',e.target.checked)});
"""


def render_html(
    report: DriftReport,
    *,
    title: str = "Drift report",
    context: Mapping[str, str] | None = None,
    generated: datetime | None = None,
    performance: WindowPerformance | None = None,
) -> str:
    """The whole report as one HTML document. ``context`` adds key/value lines to the header
    (model, version, window...); ``performance`` adds the labelled feedback's metrics."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    sub = " · ".join(f"{k}: {v}" for k, v in (context or {}).items())
    document = {**report.to_dict(), "details": report.details()}
    if performance is not None:
        document["performance"] = performance.to_dict()
    data = json.dumps(_finite(document), allow_nan=False)
    rows = sorted(report.columns, key=lambda c: (not c.drifted, -c.score if c.drifted else 0))
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width,initial-scale=1'>",
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            "<header><div class='brand'>Loopline · drift report</div>",
            f"<h1>{_e(title)}</h1><div class='sub'>{_e(sub)}{' · ' if sub else ''}"
            f"generated {when}</div></header><main>",
            _summary(report),
            performance_html(performance) if performance is not None else "",
            "<div class='toolbar'><h2>Columns</h2><label><input type='checkbox' "
            "id='only-drifted'> only drifted columns</label></div>",
            f"<p class='legend'>Distributions:<i style='background:{REF_COLOUR}'></i>reference"
            f"<i style='background:{CUR_COLOUR}'></i>current</p>",
            "<table><thead><tr><th>Column</th><th>Test</th><th>Value</th><th>Threshold</th>"
            "<th>Drift</th><th>Reference vs current</th><th>Missing</th><th>Notes</th></tr>"
            "</thead><tbody>",
            *(_row(column) for column in rows),
            "</tbody></table></main>",
            "<footer>Tests and thresholds: p-value tests drift below their threshold "
            "(KS at or below), distances at or above it. Values are computed on non-missing "
            "rows; shares of missing values are shown separately.</footer>",
            f"<script type='application/json' id='report-data'>{_script_safe(data)}</script>",
            f"<script>{_SCRIPT}</script></body></html>",
        ]
    )


def _summary(report: DriftReport) -> str:
    drifted = report.dataset_drift
    verdict = (
        "<div class='big drift'>Drift detected</div>"
        if drifted
        else "<div class='big ok'>No dataset drift</div>"
    )
    share, cut = report.drift_share, report.drift_share_threshold
    colour = DRIFT_COLOUR if drifted else OK_COLOUR
    meter = (
        f"<div class='meter'><span style='width:{share * 100:.1f}%;background:{colour}'></span>"
        f"<i style='left:{cut * 100:.1f}%' title='threshold {cut:.0%}'></i></div>"
    )
    worst = report.worst(5)
    worst_html = (
        "<ul class='worst'>"
        + "".join(
            f"<li title='{_e(c.test)}'><b>{_e(c.name)}</b><span class='muted'>"
            f"{'' if c.test in _DISTANCES else 'p '}"
            f"{_fmt(c.p_value if c.test not in _DISTANCES else c.statistic)}</span></li>"
            for c in worst
        )
        + "</ul>"
        if worst
        else "<div class='muted'>none</div>"
    )
    return (
        "<section class='cards'>"
        f"<div class='card'><h2>Dataset</h2>{verdict}<div class='muted'>drift when at least "
        f"{cut:.0%} of columns drift</div></div>"
        f"<div class='card'><h2>Drifted columns</h2><div class='big'>{report.drifted_columns}"
        f"<span class='muted' style='font-size:16px'> / {len(report.columns)}</span></div>"
        f"<div class='muted'>{share:.0%} of columns</div>{meter}</div>"
        f"<div class='card'><h2>Rows</h2><div class='big'>{report.n_current:,}</div>"
        f"<div class='muted'>current, against {report.n_reference:,} reference rows</div></div>"
        f"<div class='card'><h2>Worst columns</h2>{worst_html}</div>"
        "</section>"
    )


_DISTANCES = frozenset({"psi", "wasserstein_normed", "jensenshannon"})


def _row(column: ColumnDrift) -> str:
    is_distance = column.test in _DISTANCES
    value = column.statistic if is_distance else column.p_value
    label = "distance" if is_distance else "p-value"
    rule = "≥" if is_distance else ("≤" if column.test == "ks" else "<")
    stat = "" if is_distance else f"<div class='muted'>stat {_fmt(column.statistic)}</div>"
    badge = (
        "<span class='badge drift'>drift</span>"
        if column.drifted
        else "<span class='badge ok'>stable</span>"
    )
    notes = [column.note] if column.note else []
    if column.unseen_count:
        notes.append(
            f"{column.unseen_count:,} current values ({column.unseen_share:.1%}) in levels "
            "the reference never had"
        )
    missing = f"{column.missing_reference:.1%} → {column.missing_current:.1%}"
    if column.missing_current - column.missing_reference > 0.05:
        missing = f"<b class='drift'>{missing}</b>"
    return (
        f"<tr class='{'drifted' if column.drifted else 'stable'}'>"
        f"<td><div class='name'>{_e(column.name)}</div><span class='tag'>{column.kind}</span> "
        f"<span class='muted' style='font-size:12px'>{column.n_unique:,} distinct</span></td>"
        f"<td>{_e(column.test)}</td>"
        f"<td class='num'>{_fmt(value)}<div class='muted'>{label}</div>{stat}</td>"
        f"<td class='num'>{rule} {_fmt(column.threshold)}</td>"
        f"<td>{badge}</td>"
        f"<td>{_plot_svg(column.plot)}</td>"
        f"<td class='num'>{missing}</td>"
        f"<td class='note'>{'<br>'.join(_e(n) for n in notes)}</td></tr>"
    )


def _plot_svg(plot: Plot | None) -> str:
    if plot is None or not plot.reference:
        return "<span class='muted'>no values</span>"
    if plot.kind == "histogram":
        return _histogram_svg(plot)
    return _bars_svg(plot)


def _histogram_svg(plot: Plot, width: int = 240, height: int = 64) -> str:
    top = max(max(plot.reference), max(plot.current), 1e-12)
    bins = len(plot.reference)
    step = width / bins
    plot_h = height - 14
    parts = []
    for i, share in enumerate(plot.reference):
        h = share / top * plot_h
        parts.append(
            f"<rect x='{i * step:.1f}' y='{plot_h - h:.1f}' width='{max(step - 1, 0.5):.1f}' "
            f"height='{h:.1f}' fill='{REF_COLOUR}' opacity='.55'/>"
        )
    points = " ".join(
        f"{i * step:.1f},{plot_h - s / top * plot_h:.1f} {(i + 1) * step:.1f},"
        f"{plot_h - s / top * plot_h:.1f}"
        for i, s in enumerate(plot.current)
    )
    parts.append(
        f"<polyline points='{points}' fill='none' stroke='{CUR_COLOUR}' stroke-width='1.6'/>"
    )
    low, high = plot.edges[0], plot.edges[-1]
    parts.append(f"<text x='0' y='{height - 2}'>{_e(_fmt(low))}</text>")
    parts.append(f"<text x='{width}' y='{height - 2}' text-anchor='end'>{_e(_fmt(high))}</text>")
    return _svg(width, height, "".join(parts))


def _bars_svg(plot: Plot, width: int = 240) -> str:
    row, label_w = 13, 78
    height = row * len(plot.labels) + 2
    # One scale for every bar, the "others" bucket included, so lengths compare across rows.
    top = max(max(plot.reference), max(plot.current), 1e-12)
    bar_w = width - label_w - 34
    parts = []
    for i, (label, ref, cur) in enumerate(
        zip(plot.labels, plot.reference, plot.current, strict=True)
    ):
        y = i * row
        short = label if len(label) <= 12 else label[:11] + "…"
        parts.append(
            f"<text x='{label_w - 4}' y='{y + 10}' text-anchor='end'><title>{_e(label)}: "
            f"reference {ref:.1%}, current {cur:.1%}</title>{_e(short)}</text>"
        )
        parts.append(
            f"<rect x='{label_w}' y='{y + 1}' width='{ref / top * bar_w:.1f}' "
            f"height='5' fill='{REF_COLOUR}'/><rect x='{label_w}' y='{y + 6}' "
            f"width='{cur / top * bar_w:.1f}' height='5' fill='{CUR_COLOUR}'/>"
        )
        parts.append(f"<text x='{width}' y='{y + 10}' text-anchor='end'>{cur:.0%}</text>")
    return _svg(width, height, "".join(parts))


def _svg(width: int, height: int, body: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'>{body}</svg>"
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if math.isinf(value):
        return "∞"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.4g}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _script_safe(data: str) -> str:
    return data.replace("</", "<\\/")


def _finite(value: object) -> object:
    """The structure with infinite and NaN floats as None, which JSON can hold."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
