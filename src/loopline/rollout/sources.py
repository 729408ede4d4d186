"""Where the canary controller reads what each variant did: metric sources behind one interface.

- :class:`ServerMetricsSource` — zero infrastructure: scrapes the Loopline model servers'
  own ``/metrics`` at every poll and differences the counters over the window.
- :class:`PrometheusSource` — PromQL over a Prometheus server's HTTP API (``increase`` and
  ``histogram_quantile`` over the window, evaluated at its end).

Both read predictions, labels and shadow answers from the inference log, where a deployment's
servers record each row with its ``variant`` (and ``shadow`` for copies sent to a shadow variant).

Series conventions (what ``loopline serve --deployment D`` exports): ``model_name`` is the
deployment and ``variant`` the variant, on ``inference_requests_total`` (with ``code``),
``prediction_latency_seconds`` and ``model_load_seconds``.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loopline.core.errors import InvalidInput, RemoteError
from loopline.rollout.checks import CanaryWindow, VariantWindow

__all__ = [
    "PrometheusSource",
    "ServerMetricsSource",
    "check_source",
    "log_window",
    "quantile_from_buckets",
]


def check_url(option: str, url: object) -> str:
    """An absolute http(s) URL with a host, else a clear error naming the option."""
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if (
        not isinstance(url, str)
        or parsed is None
        or parsed.scheme not in ("http", "https")
        or not parsed.hostname
    ):
        raise InvalidInput(
            f"{option} {url!r} is not an http(s) URL",
            hint=f"write e.g. {option} http://127.0.0.1:8080"
            + ("/metrics" if option == "--metrics-url" else ""),
        )
    return url


def check_source(source: Mapping[str, Any]) -> None:
    """Refuse metric sources that can never be read, before a rollout starts."""
    for url in source.get("metrics_urls") or ():
        check_url("--metrics-url", url)
    if source.get("prometheus_url"):
        check_url("--prometheus-url", source["prometheus_url"])


def quantile_from_buckets(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the
    rank, from cumulative ``(upper_bound, count)`` pairs sorted by bound (``+Inf`` last)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # Prometheus answers the highest finite bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


# -- the inference log part ------------------------------------------------------------------
@dataclass(frozen=True)
class LoggedWindow:
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    labelled: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    shadow_pairs: tuple[np.ndarray, np.ndarray] | None = None


def log_window(
    log_root: Path | None, deployment: str, variants: Iterable[str], since: float, until: float,
    *, champion: str | None = None, shadow: str | None = None,
) -> LoggedWindow:  # fmt: skip
    """Each variant's logged predictions in ``[since, until)``, its labelled ones, and the
    (champion, shadow) answer pairs of shadowed requests."""
    if log_root is None:
        return LoggedWindow()
    import pyarrow.compute as pc

    from loopline.rollout._logs import inference_folder, read_window_segments

    # Only segments written since the window began can hold its requests or their labels.
    from loopline.rollout.abtest import LOG_COLUMNS

    table = read_window_segments(
        inference_folder(log_root, deployment), since=since, columns=LOG_COLUMNS
    )
    if table.num_rows == 0 or "variant" not in table.column_names:
        return LoggedWindow()
    stamps = pc.cast(table.column("timestamp"), "int64").to_numpy() / 1e6
    table = table.filter((stamps >= since) & (stamps < until))
    variant_col = np.asarray(table.column("variant").to_pylist(), dtype=object)
    is_shadow = (
        np.asarray(table.column("shadow").to_pylist(), dtype=bool)
        if "shadow" in table.column_names
        else np.zeros(table.num_rows, dtype=bool)
    )
    predictions_all = np.asarray(table.column("prediction").to_pylist())
    keys = np.char.add(
        np.asarray(table.column("request_id").to_pylist(), dtype=str),
        np.char.add("#", np.asarray(table.column("row").to_pylist(), dtype=str)),
    )
    feedback = read_window_segments(log_root / "feedback", since=since)
    truth: dict[str, Any] = {}
    if feedback.num_rows:
        ids = feedback.column("request_id").to_pylist()
        rows = feedback.column("row").to_pylist()
        texts = feedback.column("label_text").to_pylist()
        numbers = feedback.column("label").to_pylist()
        # A numeric model's label is compared as a number (1.0 == 1), a class name as text.
        numeric = predictions_all.dtype.kind in "biuf"
        for rid, row, text, number in zip(ids, rows, texts, numbers, strict=True):
            truth[f"{rid}#{row}"] = (
                number if number is not None and (numeric or text is None) else text
            )
    predictions: dict[str, np.ndarray] = {}
    labelled: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for variant in variants:
        mask = (variant_col == variant) & ~is_shadow
        predictions[variant] = predictions_all[mask]
        if truth:
            chosen = [i for i in np.flatnonzero(mask) if keys[i] in truth]
            labels = np.asarray([truth[keys[i]] for i in chosen])
            labelled[variant] = (labels, predictions_all[chosen])
    pairs = None
    if shadow is not None and champion is not None and is_shadow.any():
        shadow_rows = {keys[i]: i for i in np.flatnonzero(is_shadow & (variant_col == shadow))}
        primary = [
            (i, shadow_rows[keys[i]])
            for i in np.flatnonzero(~is_shadow & (variant_col == champion))
            if keys[i] in shadow_rows
        ]
        if primary:
            left, right = zip(*primary, strict=True)
            pairs = (predictions_all[list(left)], predictions_all[list(right)])
    return LoggedWindow(predictions, labelled, pairs)


def _variant_window(
    requests: float, errors: float, p99_ms: float | None, logged: LoggedWindow, variant: str
) -> VariantWindow:
    labelled = logged.labelled.get(variant)
    return VariantWindow(
        requests=round(requests),
        errors=round(errors),
        latency_p99_ms=p99_ms,
        predictions=logged.predictions.get(variant),
        labels=None if labelled is None else labelled[0],
        labelled_predictions=None if labelled is None else labelled[1],
    )


# -- scraping the servers ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Snapshot:
    at: float
    requests: dict[str, float]  # variant -> answered requests
    errors: dict[str, float]  # variant -> 5xx answers
    buckets: dict[str, dict[float, float]]  # variant -> le -> cumulative count
    loaded: frozenset[str]


def _scrape(url: str, deployment: str, timeout: float) -> _Snapshot:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RemoteError(
            f"cannot read the model server's metrics at {url}: {exc}",
            hint="check that `loopline serve --deployment` runs there, or give --metrics-url",
        ) from None
    requests: dict[str, float] = {}
    errors: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    loaded: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model_name") != deployment or "variant" not in labels:
                continue
            variant = labels["variant"]
            if sample.name == "inference_requests_total":
                requests[variant] = requests.get(variant, 0.0) + sample.value
                if labels.get("code", "").startswith("5"):
                    errors[variant] = errors.get(variant, 0.0) + sample.value
            elif sample.name == "prediction_latency_seconds_bucket":
                le = float(labels["le"])
                per = buckets.setdefault(variant, {})
                per[le] = per.get(le, 0.0) + sample.value
            elif sample.name == "model_load_seconds":
                loaded.add(variant)
    return _Snapshot(time.time(), requests, errors, buckets, frozenset(loaded))


def _merge(snapshots: Sequence[_Snapshot]) -> _Snapshot:
    def add(maps: Iterable[Mapping[str, float]]) -> dict[str, float]:
        total: dict[str, float] = {}
        for m in maps:
            for k, v in m.items():
                total[k] = total.get(k, 0.0) + v
        return total

    buckets: dict[str, dict[float, float]] = {}
    for snap in snapshots:
        for variant, per in snap.buckets.items():
            target = buckets.setdefault(variant, {})
            for le, count in per.items():
                target[le] = target.get(le, 0.0) + count
    loaded = frozenset.intersection(*(s.loaded for s in snapshots)) if snapshots else frozenset()
    return _Snapshot(
        min(s.at for s in snapshots), add(s.requests for s in snapshots),
        add(s.errors for s in snapshots), buckets, loaded,
    )  # fmt: skip


class ServerMetricsSource:
    """Differences of the servers' own counters between the window's start and end.

    The controller calls :meth:`observe` on every poll, so a snapshot exists near each step's
    start; the window uses the newest snapshot taken at or before ``since``.
    """

    def __init__(
        self, metrics_urls: Sequence[str], *, log_root: Path | None = None, timeout: float = 5.0
    ) -> None:
        self.urls = list(metrics_urls)
        self.log_root = log_root
        self.timeout = timeout
        self._history: dict[str, list[_Snapshot]] = {}

    def _take(self, deployment: str) -> _Snapshot:
        snap = _merge([_scrape(url, deployment, self.timeout) for url in self.urls])
        history = self._history.setdefault(deployment, [])
        history.append(snap)
        del history[:-512]
        return snap

    def observe(self, deployment: str) -> None:
        self._take(deployment)

    def ready(self, deployment: str, variant: str) -> bool:
        """Whether the variant's model is loaded; an unreachable server raises RemoteError
        (the real cause, not "not ready")."""
        return variant in self._take(deployment).loaded

    def window(
        self, deployment: str, champion: str, candidate: str, since: float, until: float,
        *, shadow: str | None = None,
    ) -> CanaryWindow:  # fmt: skip
        end = self._take(deployment)
        history = self._history[deployment]
        earlier = [s for s in history if s.at <= since] or history[:1]
        start = earlier[-1]
        logged = log_window(
            self.log_root, deployment, (champion, candidate), since, until,
            champion=champion, shadow=shadow,
        )  # fmt: skip
        windows = {}
        for variant in (champion, candidate):
            requests = end.requests.get(variant, 0.0) - start.requests.get(variant, 0.0)
            errors = end.errors.get(variant, 0.0) - start.errors.get(variant, 0.0)
            before = start.buckets.get(variant, {})
            delta = sorted(
                (le, count - before.get(le, 0.0))
                for le, count in end.buckets.get(variant, {}).items()
            )
            p99 = quantile_from_buckets(0.99, delta)
            windows[variant] = _variant_window(
                requests, errors, None if p99 is None else p99 * 1000, logged, variant
            )
        return CanaryWindow(
            since, until, windows[candidate], windows[champion], logged.shadow_pairs
        )


class PrometheusSource:
    """PromQL over Prometheus' HTTP API, evaluated at the window's end over its length."""

    def __init__(self, url: str, *, log_root: Path | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.log_root = log_root
        self.timeout = timeout

    def query(self, expr: str, at: float) -> float | None:
        """One instant query; ``None`` when the vector is empty or the value is NaN (no data)."""
        params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/v1/query?{params}", timeout=self.timeout
            ) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RemoteError(
                f"cannot query Prometheus at {self.url}: {exc}",
                hint="check --prometheus-url and that Prometheus runs",
            ) from None
        if body.get("status") != "success":
            raise RemoteError(f"Prometheus refused {expr!r}: {body.get('error', body)}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[-1]["value"][1])
        return None if math.isnan(value) else value

    @staticmethod
    def _selector(deployment: str, variant: str, extra: str = "") -> str:
        quoted = json.dumps(deployment), json.dumps(variant)
        return f"model_name={quoted[0]},variant={quoted[1]}{extra}"

    def observe(self, deployment: str) -> None:
        return None  # Prometheus keeps the history itself

    def ready(self, deployment: str, variant: str) -> bool:
        found = self.query(
            f"count(model_load_seconds{{{self._selector(deployment, variant)}}})", time.time()
        )
        return bool(found)

    def window(
        self, deployment: str, champion: str, candidate: str, since: float, until: float,
        *, shadow: str | None = None,
    ) -> CanaryWindow:  # fmt: skip
        seconds = max(1, round(until - since))
        logged = log_window(
            self.log_root, deployment, (champion, candidate), since, until,
            champion=champion, shadow=shadow,
        )  # fmt: skip
        windows = {}
        for variant in (champion, candidate):
            sel = self._selector(deployment, variant)
            requests = self.query(
                f"sum(increase(inference_requests_total{{{sel}}}[{seconds}s]))", until
            )
            errors = self.query(
                f'sum(increase(inference_requests_total{{{sel},code=~"5.."}}[{seconds}s]))',
                until,
            )
            p99 = self.query(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(prediction_latency_seconds_bucket{{{sel}}}[{seconds}s])))",
                until,
            )
            windows[variant] = _variant_window(
                requests or 0.0, errors or 0.0, None if p99 is None else p99 * 1000, logged,
                variant,
            )  # fmt: skip
        return CanaryWindow(
            since, until, windows[candidate], windows[champion], logged.shadow_pairs
        )
