"""A Grafana dashboard (JSON model) over the model server's metrics and the monitoring gauges.

The dashboard is portable: a ``datasource`` variable of type ``prometheus`` chooses the data
source at view time, every panel and query refers to it as ``${datasource}``, and ``model`` /
``version`` variables (multi-value, "All" by default) filter every query with ``=~``. Import it
in Grafana with *Dashboards → New → Import*, or provision it from a folder of JSON files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA_VERSION", "Panel", "build_dashboard", "panels"]

SCHEMA_VERSION = 41  # Grafana 12's classic JSON model; older versions migrate on load
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_SERVED = 'model_name=~"$model", model_version=~"$version"'
_MODEL = 'model_name=~"$model"'
_WIDTH = 24


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries, stat, bargauge, table
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    unit: str = "short"
    width: int = 12
    height: int = 8
    description: str = ""
    thresholds: tuple[tuple[str, float | None], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    limits: tuple[float | None, float | None] = (None, None)


def _quantile(q: float, metric: str, by: str = "model_version") -> str:
    return (
        f"histogram_quantile({q}, sum by ({by}, le) "
        f"(rate({metric}_bucket{{{_SERVED}}}[$__rate_interval])))"
    )


def panels() -> list[tuple[str, list[Panel]]]:
    """The dashboard's rows and their panels (titles, queries, units)."""
    rate = "[$__rate_interval]"
    requests = f"inference_requests_total{{{_MODEL}}}"
    traffic = [
        Panel(
            "Predictions per second",
            "timeseries",
            (
                (
                    f"sum by (model_name, model_version) "
                    f"(rate(model_predictions_total{{{_SERVED}}}{rate}))",
                    "{{model_name}} v{{model_version}}",
                ),
            ),
            unit="reqps",
            description="Rows predicted per second (model_predictions_total).",
        ),
        Panel(
            "Requests per second by status code",
            "timeseries",
            ((f"sum by (code) (rate({requests}{rate}))", "{{code}}"),),
            unit="reqps",
        ),
        Panel(
            "Error rate (5xx)",
            "timeseries",
            (
                (
                    f'sum by (model_name) (rate(inference_requests_total{{{_MODEL}, code=~"5.."}}'
                    f"{rate})) / sum by (model_name) (rate({requests}{rate}))",
                    "{{model_name}}",
                ),
            ),
            unit="percentunit",
            thresholds=(("green", None), ("red", 0.05)),
            limits=(0, None),
        ),
        Panel(
            "Batch size (rows per predict call)",
            "timeseries",
            (
                (_quantile(0.5, "inference_batch_size"), "p50 v{{model_version}}"),
                (_quantile(0.95, "inference_batch_size"), "p95 v{{model_version}}"),
            ),
        ),
    ]
    latency = [
        Panel(
            "Prediction latency",
            "timeseries",
            tuple(
                (
                    _quantile(q, "prediction_latency_seconds"),
                    f"p{round(q * 100)} v{{{{model_version}}}}",
                )
                for q in (0.5, 0.95, 0.99)
            ),
            unit="s",
            description="From a request's arrival to its response (prediction_latency_seconds).",
        ),
        Panel(
            "Queue wait p95",
            "timeseries",
            ((_quantile(0.95, "inference_queue_wait_seconds"), "v{{model_version}}"),),
            unit="s",
        ),
    ]
    quality = [
        Panel(
            "Drift share",
            "timeseries",
            (
                (
                    f"max by (model_name, model_version) (model_drift_share{{{_SERVED}}})",
                    "{{model_name}} v{{model_version}}",
                ),
            ),
            unit="percentunit",
            thresholds=(("green", None), ("red", 0.5)),
            limits=(0, 1),
            description="Share of monitored columns that drifted (loopline monitor run).",
        ),
        Panel(
            "Per-feature drift statistic",
            "bargauge",
            (
                (
                    f"max by (feature, test) (model_feature_drift{{{_SERVED}}})",
                    "{{feature}} ({{test}})",
                ),
            ),
            options={"orientation": "horizontal", "displayMode": "gradient"},
            description="Each column's test statistic (model_feature_drift).",
        ),
        Panel(
            "Drifted features",
            "table",
            (
                (
                    "max by (model_version, feature, test) "
                    f"(model_feature_drifted{{{_SERVED}}}) == 1",
                    "{{feature}}",
                ),
            ),
        ),
        Panel(
            "Realized performance",
            "timeseries",
            (
                (
                    f"max by (model_version, metric) (model_performance{{{_SERVED}}})",
                    "v{{model_version}} {{metric}}",
                ),
            ),
            description="Metrics on labelled traffic once enough labels arrived.",
        ),
        Panel(
            "Labelled rows",
            "timeseries",
            (
                (
                    f"max by (model_version) (model_labelled_rows{{{_SERVED}}})",
                    "v{{model_version}}",
                ),
            ),
        ),
        Panel(
            "Share of rows labelled",
            "timeseries",
            (
                (
                    f"max by (model_version) (model_labelled_share{{{_SERVED}}})",
                    "v{{model_version}}",
                ),
            ),
            unit="percentunit",
            limits=(0, 1),
        ),
    ]
    return [("Traffic", traffic), ("Latency", latency), ("Drift and performance", quality)]


def build_dashboard(
    title: str = "Loopline model monitoring", uid: str = "loopline-models"
) -> dict[str, Any]:
    """The dashboard as a dict ready for ``json.dumps``."""
    found: list[dict[str, Any]] = []
    y = 0
    ids = iter(range(1, 1000))
    for row_title, row_panels in panels():
        found.append(
            {
                "id": next(ids),
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": _WIDTH, "h": 1},
                "panels": [],
            }
        )
        y += 1
        x, row_height = 0, 0
        for panel in row_panels:
            if x + panel.width > _WIDTH:
                x, y, row_height = 0, y + row_height, 0
            found.append(_panel(panel, next(ids), x, y))
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return {
        "uid": uid,
        "title": title,
        "description": "Traffic, latency, drift and realized performance of served models.",
        "tags": ["loopline", "mlops"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "timezone": "browser",
        "annotations": {"list": []},
        "templating": {"list": _variables()},
        "panels": found,
    }


def _variables() -> list[dict[str, Any]]:
    def query(name: str, label: str, expr: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": expr, "refId": f"{name}-variable"},
            "definition": expr,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
            "sort": 1,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        query("model", "Model", "label_values(inference_requests_total, model_name)"),
        query(
            "version",
            "Version",
            'label_values(model_predictions_total{model_name=~"$model"}, model_version)',
        ),
    ]


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    low, high = panel.limits
    if low is not None:
        defaults["min"] = low
    if high is not None:
        defaults["max"] = high
    if panel.thresholds:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in panel.thresholds],
        }
    found: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "datasource": DATASOURCE,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                **({"instant": True, "format": "table"} if panel.kind == "table" else {}),
            }
            for index, (expr, legend) in enumerate(panel.targets)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": dict(panel.options),
    }
    return found
