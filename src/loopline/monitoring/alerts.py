"""Prometheus alerting rules for served models.

The rules read the metric names the model server exports (``inference_requests_total``,
``prediction_latency_seconds``) and the gauges of ``loopline monitor run``
(``model_drift_share``, ``model_performance``, ``model_labelled_rows``); every alert carries a
``severity`` label and ``summary``, ``description`` and ``runbook`` annotations. Load the file with
``rule_files:`` in ``prometheus.yml``; ``promtool check rules`` accepts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from loopline.core.errors import InvalidInput

__all__ = ["AlertRules", "PerformanceFloor", "render_rules"]

# Metrics where a smaller value is better: their bound is a ceiling, not a floor.
_LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mape"})
_METRICS = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"}) | _LOWER_IS_BETTER
ERROR_RATIO = "model_name:inference_requests_errors:ratio_rate5m"
LATENCY_P95 = "model_name_version:prediction_latency_seconds:p95_rate5m"


@dataclass(frozen=True)
class PerformanceFloor:
    """Alert when ``metric`` crosses ``bound`` (below it, or above it for losses and errors)."""

    metric: str
    bound: float

    def __post_init__(self) -> None:
        if self.metric not in _METRICS:
            raise InvalidInput(
                f"no performance metric is called {self.metric!r}",
                hint=f"choose one of {', '.join(sorted(_METRICS))}",
            )
        if self.metric in _LOWER_IS_BETTER and self.bound < 0:
            raise InvalidInput(
                f"the ceiling {self.bound} of {self.metric} is below 0, which it never is",
                hint=f"give a value of 0 or more, e.g. {self.metric}=0.5",
            )
        if self.metric not in _LOWER_IS_BETTER and not 0 <= self.bound <= 1:
            raise InvalidInput(
                f"the floor {self.bound} of {self.metric} is outside 0..1, where it always is",
                hint=f"give a share, e.g. {self.metric}=0.8",
            )

    @property
    def comparison(self) -> str:
        return ">" if self.metric in _LOWER_IS_BETTER else "<"


@dataclass(frozen=True)
class AlertRules:
    """Thresholds and timings of the alerting rules; ``build()`` makes the rule file.

    ``model`` limits every rule to one model (and adds an alert for its metrics vanishing).
    ``hold`` overrides every rule's ``for:`` (short values are for tests); ``interval`` is the
    groups' evaluation interval (``None``: Prometheus' global one). ``runbook_url`` is a base
    address; each alert links to ``<runbook_url>#<alert name>``."""

    model: str | None = None
    error_ratio: float = 0.05
    latency_p95_seconds: float = 0.5
    no_traffic_for: timedelta = timedelta(minutes=15)
    drift_share: float = 0.5
    floors: tuple[PerformanceFloor, ...] = (PerformanceFloor("accuracy", 0.8),)
    min_labels: int = 100
    hold: timedelta | None = None
    interval: timedelta | None = None
    runbook_url: str | None = None
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("error_ratio", "drift_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise InvalidInput(f"{name} must be in (0, 1], got {value}")
        if self.latency_p95_seconds <= 0:
            raise InvalidInput(
                f"the p95 latency bound must be positive, got {self.latency_p95_seconds}"
            )
        if self.min_labels < 1:
            raise InvalidInput(f"min_labels must be at least 1, got {self.min_labels}")
        if self.model is not None and ('"' in self.model or "\\" in self.model):
            raise InvalidInput(f"model name {self.model!r} cannot be used in a PromQL selector")

    def build(self) -> dict[str, Any]:
        failed = self._sel('code=~"5.."')
        serving = [
            self._record(
                ERROR_RATIO,
                f"sum by (model_name) (rate(inference_requests_total{{{failed}}}[5m]))"
                f" / sum by (model_name) (rate(inference_requests_total{{{self._sel()}}}[5m]))",
            ),
            self._record(
                LATENCY_P95,
                "histogram_quantile(0.95, sum by (model_name, model_version, le) "
                f"(rate(prediction_latency_seconds_bucket{{{self._sel()}}}[5m])))",
            ),
            self._alert(
                "LooplineModelHighErrorRate",
                f"{ERROR_RATIO} > {self.error_ratio:g}",
                timedelta(minutes=5),
                "critical",
                "High error rate on {{ $labels.model_name }}",
                "{{ $value | humanizePercentage }} of inference requests to "
                "{{ $labels.model_name }} failed with a 5xx code over 5 minutes "
                f"(limit {self.error_ratio:.0%}).",
                "Check the server log for failed predict calls; roll back a new version with "
                "`loopline deploy set-traffic` if it started with one.",
            ),
            self._alert(
                "LooplineModelHighLatencyP95",
                f"{LATENCY_P95} > {self.latency_p95_seconds:g}",
                timedelta(minutes=10),
                "warning",
                "Slow predictions from {{ $labels.model_name }} "
                "version {{ $labels.model_version }}",
                "The 95th percentile of prediction latency is {{ $value | humanizeDuration }} "
                f"(limit {self.latency_p95_seconds:g} s).",
                "Look at inference_queue_wait_seconds and inference_batch_size: a full queue "
                "needs more workers or replicas; a slow model needs a smaller batch.",
            ),
            self._alert(
                "LooplineModelNoTraffic",
                self._no_traffic(),
                timedelta(minutes=5),
                "warning",
                "No inference traffic for {{ $labels.model_name }}",
                f"{{{{ $labels.model_name }}}} answered no requests in the last "
                f"{_duration(self.no_traffic_for)}.",
                "Check that the server is up and scraped (the `up` series), and that clients "
                "still route to it.",
            ),
        ]
        quality = [
            self._alert(
                "LooplineModelDrift",
                f"model_drift_share{{{self._sel()}}} >= {self.drift_share:g}",
                timedelta(minutes=15),
                "warning",
                "Data drift on {{ $labels.model_name }} version {{ $labels.model_version }}",
                "{{ $value | humanizePercentage }} of the monitored columns drifted "
                f"(dataset drift from {self.drift_share:.0%}).",
                "Open the latest report (`loopline monitor reports`), see which features "
                "moved, and decide whether to retrain on recent data.",
            ),
            *[self._floor(f) for f in self.floors],
        ]
        groups = [
            self._group("loopline-model-serving", serving),
            self._group("loopline-model-quality", quality),
        ]
        return {"groups": groups}

    # -- parts ------------------------------------------------------------------------------

    def _sel(self, *extra: str) -> str:
        matchers = [f'model_name="{self.model}"'] if self.model else []
        return ", ".join([*matchers, *extra])

    def _no_traffic(self) -> str:
        span = _duration(self.no_traffic_for)
        counter = f"inference_requests_total{{{self._sel()}}}"
        expr = f"sum by (model_name) (increase({counter}[{span}])) == 0"
        if self.model:
            expr += f" or absent(inference_requests_total{{{self._sel()}}})"
        return expr

    def _floor(self, floor: PerformanceFloor) -> dict[str, Any]:
        word = "above" if floor.comparison == ">" else "below"
        selector = self._sel(f'metric="{floor.metric}"')
        expr = (
            f"model_performance{{{selector}}} {floor.comparison} {floor.bound:g}"
            f" and on (model_name, model_version) model_labelled_rows{{{self._sel()}}}"
            f" >= {self.min_labels}"
        )
        name = "".join(part.capitalize() for part in floor.metric.split("_"))
        return self._alert(
            f"LooplineModel{name}{'Above' if word == 'above' else 'Below'}Bound",
            expr,
            timedelta(minutes=30),
            "warning",
            f"{floor.metric} of {{{{ $labels.model_name }}}} version "
            f"{{{{ $labels.model_version }}}} is {word} {floor.bound:g}",
            f'Realized {floor.metric} on labelled traffic is {{{{ $value | printf "%.4g" }}}} '
            f"({word} the bound {floor.bound:g}, with at least {self.min_labels} labels).",
            "Compare with the previous version (`loopline monitor performance MODEL --version "
            "OLD --challenger NEW`); retrain or roll back.",
        )

    def _record(self, name: str, expr: str) -> dict[str, Any]:
        return {"record": name, "expr": expr}

    def _alert(
        self,
        name: str,
        expr: str,
        hold: timedelta,
        severity: str,
        summary: str,
        description: str,
        runbook: str,
    ) -> dict[str, Any]:
        annotations = {"summary": summary, "description": description, "runbook": runbook}
        if self.runbook_url:
            annotations["runbook_url"] = f"{self.runbook_url.rstrip('/')}#{name}"
        chosen = self.hold if self.hold is not None else hold
        return {
            "alert": name,
            "expr": expr,
            "for": _duration(chosen),
            "labels": {"severity": severity, **self.extra_labels},
            "annotations": annotations,
        }

    def _group(self, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        group: dict[str, Any] = {"name": name}
        if self.interval is not None:
            group["interval"] = _duration(self.interval)
        group["rules"] = rules
        return group


def render_rules(rules: AlertRules) -> str:
    """The rule file as YAML text."""
    import yaml

    return str(yaml.safe_dump(rules.build(), sort_keys=False, width=100, allow_unicode=True))


def _duration(value: timedelta) -> str:
    """A Prometheus duration: whole seconds in the largest unit that divides them."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
