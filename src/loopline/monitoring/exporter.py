"""Monitoring gauges for Prometheus, set from drift results and performance results.

Every series carries ``model_name`` and ``model_version`` (the labels the model server uses):

=====================================  =====================================================
``model_drift_share``                  share of monitored columns that drifted (0 to 1)
``model_dataset_drift``                1 when the share reached the dataset-drift threshold
``model_feature_drift{feature,test}``  the test's statistic for the column (KS D, PSI, ...)
``model_feature_drift_p_value``        its p-value, for tests that have one
``model_feature_drifted``              1 when the column drifted
``model_performance{metric}``          a realized metric of a judged window (see performance)
``model_labelled_rows``                labelled rows in the evaluated window
``model_labelled_share``               share of the window's logged rows that have labels
``model_monitor_last_evaluation_timestamp_seconds``  when the model was last evaluated
=====================================  =====================================================

A value that does not exist is left out rather than exported as NaN: a window without enough
labels has no ``model_performance`` series, and a new result for a model version removes the
series its previous result set (a feature that is no longer monitored disappears).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from loopline.core.errors import InvalidInput

if TYPE_CHECKING:
    from loopline.monitoring.performance import PerformanceResult

__all__ = ["MetricsEndpoint", "MonitoringGauges"]

_DRIFT_KEYS = ("dataset_drift", "drift_share", "drifted_columns", "columns")
_COLUMN_KEYS = ("type", "test", "statistic", "p_value", "threshold", "drifted")
_MODEL = ["model_name", "model_version"]


class MonitoringGauges:
    """The gauges in a registry of their own (one per app or test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.drift_share = Gauge(
            "model_drift_share", "Share of monitored columns that drifted.", _MODEL, registry=r
        )
        self.dataset_drift = Gauge(
            "model_dataset_drift",
            "1 when the share of drifted columns reached the dataset-drift threshold.",
            _MODEL,
            registry=r,
        )
        feature = [*_MODEL, "feature", "test"]
        self.feature_drift = Gauge(
            "model_feature_drift", "Drift statistic of one column.", feature, registry=r
        )
        self.feature_p_value = Gauge(
            "model_feature_drift_p_value",
            "p-value of the column's drift test.",
            feature,
            registry=r,
        )
        self.feature_drifted = Gauge(
            "model_feature_drifted", "1 when the column drifted.", feature, registry=r
        )
        self.performance = Gauge(
            "model_performance",
            "Realized performance on labelled traffic of the evaluated window.",
            [*_MODEL, "metric"],
            registry=r,
        )
        self.labelled_rows = Gauge(
            "model_labelled_rows", "Labelled rows in the evaluated window.", _MODEL, registry=r
        )
        self.labelled_share = Gauge(
            "model_labelled_share",
            "Share of the evaluated window's logged rows that have labels.",
            _MODEL,
            registry=r,
        )
        self.last_evaluation = Gauge(
            "model_monitor_last_evaluation_timestamp_seconds",
            "Unix time of the model's last monitoring evaluation.",
            ["model_name"],
            registry=r,
        )
        self._owned: dict[tuple[str, str, str], list[tuple[Gauge, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()

    def set_drift(self, model: str, version: str, result: Mapping[str, Any]) -> None:
        """Export a drift result: ``{"dataset_drift", "drift_share", "drifted_columns",
        "columns": {name: {"type", "test", "statistic", "p_value", "threshold", "drifted"}}}``."""
        _check_drift(result)
        series: list[tuple[Gauge, tuple[str, ...], float | None]] = [
            (self.drift_share, (model, version), result["drift_share"]),
            (self.dataset_drift, (model, version), float(bool(result["dataset_drift"]))),
        ]
        for name, column in result["columns"].items():
            labels = (model, version, str(name), str(column["test"]))
            series += [
                (self.feature_drift, labels, column["statistic"]),
                (self.feature_p_value, labels, column["p_value"]),
                (self.feature_drifted, labels, float(bool(column["drifted"]))),
            ]
        self._replace(("drift", model, version), series)
        self.last_evaluation.labels(model).set(time.time())

    def set_performance(self, result: PerformanceResult, version: str | None = None) -> None:
        """Export a performance result; ``version`` labels it when the result spans all."""
        model, chosen = result.model, version or result.version or ""
        series: list[tuple[Gauge, tuple[str, ...], float | None]] = [
            (self.labelled_rows, (model, chosen), float(result.labelled_rows)),
            (self.labelled_share, (model, chosen), result.labelled_share),
        ]
        if result.ok:
            series += [
                (self.performance, (model, chosen, name), value)
                for name, value in result.metrics.items()
            ]
        self._replace(("performance", model, chosen), series)
        self.last_evaluation.labels(model).set(time.time())

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def _replace(
        self, key: tuple[str, str, str], series: list[tuple[Gauge, tuple[str, ...], float | None]]
    ) -> None:
        with self._lock:
            for gauge, labels in self._owned.pop(key, []):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
            kept = []
            for gauge, labels, value in series:
                if value is None or not math.isfinite(float(value)):
                    continue
                gauge.labels(*labels).set(float(value))
                kept.append((gauge, labels))
            self._owned[key] = kept


def _check_drift(result: Mapping[str, Any]) -> None:
    missing = [k for k in _DRIFT_KEYS if k not in result]
    if missing or not isinstance(result.get("columns"), Mapping):
        raise InvalidInput(
            f"the drift result lacks {', '.join(missing) or 'a columns mapping'}",
            hint='give {"dataset_drift", "drift_share", "drifted_columns", "columns": {...}}',
        )
    if not _number_or_none(result["drift_share"]) or result["drift_share"] is None:
        raise InvalidInput(f"the drift result's drift_share {result['drift_share']!r} is no number")
    for name, column in result["columns"].items():
        if not isinstance(column, Mapping) or any(k not in column for k in _COLUMN_KEYS):
            raise InvalidInput(
                f"drift result column {name!r} lacks some of {', '.join(_COLUMN_KEYS)}",
                hint="pass the JSON object `loopline monitor drift --json` prints",
            )
        for key in ("statistic", "p_value"):
            if not _number_or_none(column[key]):
                raise InvalidInput(
                    f"drift result column {name!r} has {key} {column[key]!r}, not a number or null"
                )


def _number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


class MetricsEndpoint:
    """``/metrics`` of the gauges on their own port (127.0.0.1 unless told otherwise); port 0
    picks a free one, read back from ``port``."""

    def __init__(self, gauges: MonitoringGauges, port: int = 9108, host: str = "127.0.0.1") -> None:
        self.gauges = gauges
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsEndpoint:
        from prometheus_client import start_http_server

        try:
            self._server, self._thread = start_http_server(
                self.port, addr=self.host, registry=self.gauges.registry
            )
        except OSError as exc:
            raise InvalidInput(
                f"cannot serve monitoring metrics on {self.host}:{self.port}: {exc.strerror}",
                hint="choose another --metrics-port (0 picks a free one)",
            ) from None
        self.port = int(self._server.server_port)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MetricsEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
