"""``loopline rollout``: canary rollouts of a new model version on a deployment."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from loopline.cli._output import echo_json, echo_table
from loopline.cli.deploy import deployments, json_option, uri_option
from loopline.core.errors import InvalidInput

__all__ = ["parse_duration", "rollout_group"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``500ms``, ``30s``, ``2m``, ``1h`` or plain seconds."""
    match = _DURATION.match(text)
    if not match or float(match[1]) <= 0:
        raise InvalidInput(
            f"{text!r} is not a duration", hint="write e.g. 30s, 2m, 1h or 500ms (positive)"
        )
    return float(match[1]) * _UNIT[match[2]]


def _rollouts(tracking_uri: str | None) -> Any:
    from loopline.core.uris import parse_model_uri
    from loopline.registry import RegistryClient
    from loopline.rollout.controller import Rollouts

    found = deployments(tracking_uri)
    registry = RegistryClient(tracking_uri)

    def version_of(uri: str) -> tuple[str, int] | None:
        if parse_model_uri(uri).kind != "registry":
            return None
        version = registry.resolve_version(uri)
        return version.name, int(version.version)

    def promote_alias(name: str, alias: str, version: int) -> None:
        registry.set_alias(name, alias, version)

    def check_candidate(champion_uri: str, candidate_uri: str) -> None:
        from loopline.models.mlmodel import ModelMeta

        signatures = []
        for uri in (champion_uri, candidate_uri):
            meta = ModelMeta.load(Path(registry.resolve(uri)))
            signatures.append(meta.signature)
        champion, candidate = signatures
        if champion is not None and candidate is not None and champion.inputs != candidate.inputs:
            raise InvalidInput(
                f"the candidate {candidate_uri} expects other inputs than the champion "
                f"({champion.input_names} vs {candidate.input_names})",
                hint="a canary splits the same requests between both: their input "
                "signatures must match",
            )

    return Rollouts(
        found.store, found, promote_alias=promote_alias,
        version_of=version_of, check_candidate=check_candidate,
    )  # fmt: skip


def _attach_istio(rollouts: Any, source: dict[str, Any]) -> None:
    """With an Istio namespace, every weight change also patches the VirtualService."""
    if not source.get("istio_namespace"):
        return
    try:
        from kubernetes import config
    except ImportError:
        from loopline.core.errors import MissingExtra

        raise MissingExtra("kubernetes", "k8s") from None
    from loopline.core.errors import RemoteError
    from loopline.rollout.istio_backend import IstioWeights

    try:
        api_client = config.new_client_from_config(context=source.get("kube_context"))
    except Exception as exc:  # kubernetes raises ConfigException or plain errors
        raise RemoteError(
            f"no usable kube config for Istio: {exc}",
            hint="set KUBECONFIG or --kube-context, or leave out --istio-namespace",
        ) from None
    rollouts._on_traffic = IstioWeights(api_client, source["istio_namespace"])


def _source(spec: dict[str, Any]) -> Any:
    from loopline.rollout.sources import PrometheusSource, ServerMetricsSource

    source = spec.get("source") or {}
    log_root = Path(source["log_dir"]) if source.get("log_dir") else None
    if source.get("prometheus_url"):
        return PrometheusSource(source["prometheus_url"], log_root=log_root)
    return ServerMetricsSource(
        source.get("metrics_urls") or ["http://127.0.0.1:8080/metrics"], log_root=log_root
    )


@click.group("rollout")
def rollout_group() -> None:
    """Canary rollouts: shift traffic to a candidate step by step while checks pass, promote
    it at the end (the champion alias moves), roll back automatically when they fail."""


@rollout_group.command("start")
@click.argument("deployment")
@click.option("--candidate", "candidate_uri", required=True, help="Model URI of the candidate.")
@click.option("--steps", help="Canary weights, e.g. 10,25,50,100.")
@click.option("--step-weight", type=click.IntRange(1, 100), help="Linear steps of this size...")
@click.option("--max-weight", type=click.IntRange(1, 100), default=100, show_default=True,
              help="...up to this weight.")  # fmt: skip
@click.option("--interval", default="60s", show_default=True, help="Analysis window per step.")
@click.option("--threshold", type=int, default=2, show_default=True,
              help="Failed checks before rolling back.")  # fmt: skip
@click.option("--min-requests", type=int, default=100, show_default=True,
              help="Fewer requests in a window decide nothing.")  # fmt: skip
@click.option("--max-error-rate", type=float, default=0.01, show_default=True)
@click.option("--max-latency-p99-ms", type=float, help="Absolute p99 latency limit.")
@click.option("--max-latency-ratio", type=float, help="p99 limit relative to the champion.")
@click.option("--max-prediction-drift", type=float,
              help="Limit on the candidate's prediction drift against the champion.")  # fmt: skip
@click.option("--min-accuracy-delta", type=float,
              help="Candidate minus champion accuracy on labels, e.g. -0.02.")  # fmt: skip
@click.option("--min-labels", type=int, default=200, show_default=True)
@click.option("--max-shadow-disagreement", type=float,
              help="Share of shadowed requests answered differently.")  # fmt: skip
@click.option(
    "--no-data-deadline", help="Give up waiting for data after this (default 5 intervals)."
)
@click.option("--metrics-url", "metrics_urls", multiple=True,
              help="A model server's /metrics (repeat; default 127.0.0.1:8080).")  # fmt: skip
@click.option("--prometheus-url", help="Read the metrics from this Prometheus instead.")
@click.option("--log-dir", type=click.Path(file_okay=False),
              help="The servers' inference log (drift, accuracy, shadow checks).")  # fmt: skip
@click.option("--istio-namespace",
              help="Also patch VirtualService DEPLOYMENT in this namespace.")  # fmt: skip
@click.option("--kube-context", help="Kube context for --istio-namespace (default: current).")
@click.option("--wait", is_flag=True, help="Drive the rollout here and follow it live.")
@uri_option
@json_option
def start_command(
    deployment: str, candidate_uri: str, steps: str | None, step_weight: int | None,
    max_weight: int, interval: str, threshold: int, min_requests: int,
    max_error_rate: float, max_latency_p99_ms: float | None, max_latency_ratio: float | None,
    max_prediction_drift: float | None, min_accuracy_delta: float | None, min_labels: int,
    max_shadow_disagreement: float | None, no_data_deadline: str | None,
    metrics_urls: tuple[str, ...], prometheus_url: str | None, log_dir: str | None,
    istio_namespace: str | None, kube_context: str | None, wait: bool,
    tracking_uri: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Start a canary of CANDIDATE on DEPLOYMENT at the first step's weight."""
    from loopline.rollout.controller import RolloutSpec, steps_from

    if metrics_urls and prometheus_url:
        raise InvalidInput("give --metrics-url or --prometheus-url, not both")
    spec = RolloutSpec(
        steps=steps_from(steps, step_weight, max_weight), interval=parse_duration(interval),
        threshold=threshold, min_requests=min_requests, max_error_rate=max_error_rate,
        max_latency_p99_ms=max_latency_p99_ms, max_latency_ratio=max_latency_ratio,
        max_prediction_drift=max_prediction_drift, min_accuracy_delta=min_accuracy_delta,
        min_labels=min_labels, max_shadow_disagreement=max_shadow_disagreement,
        no_data_deadline=parse_duration(no_data_deadline) if no_data_deadline else None,
    )  # fmt: skip
    rollouts = _rollouts(tracking_uri)
    source = {
        "metrics_urls": list(metrics_urls) or None,
        "prometheus_url": prometheus_url,
        "log_dir": str(Path(log_dir).resolve()) if log_dir else None,
        "istio_namespace": istio_namespace,
        "kube_context": kube_context,
    }
    _attach_istio(rollouts, source)
    row = rollouts.start(deployment, candidate_uri, spec, source=source)
    if wait:
        _drive(rollouts, deployment, as_json)
        return
    if as_json:
        echo_json(rollouts.status(deployment))
        return
    click.echo(
        f"{deployment}: canary of {candidate_uri} started at {row.weight}% "
        f"(steps {', '.join(map(str, spec.steps))}, every {interval})"
    )
    click.echo(f"drive it with `loopline rollout run {deployment}` (or start with --wait)")


@rollout_group.command("run")
@click.argument("deployment", required=False)
@click.option("--all", "every", is_flag=True, help="Drive every deployment's active rollout.")
@click.option("--forever", is_flag=True, help="With --all: keep watching for new rollouts.")
@uri_option
@json_option
def run_command(
    deployment: str | None, every: bool, forever: bool, tracking_uri: str | None, as_json: bool
) -> None:
    """Drive DEPLOYMENT's rollout to its end (the controller); safe to restart after a kill.

    With --all it drives every active rollout of the store; with --forever as well it runs as a
    long-lived controller (as in a Kubernetes Deployment) and stops cleanly on SIGTERM.
    """
    if every == (deployment is not None):
        raise InvalidInput("give a DEPLOYMENT or --all (not both)")
    if forever and not every:
        raise InvalidInput("--forever goes with --all")
    rollouts = _rollouts(tracking_uri)
    if deployment is not None:
        _drive(rollouts, deployment, as_json)
        return
    _drive_all(rollouts, forever=forever)


def _drive_all(rollouts: Any, *, forever: bool) -> None:
    import contextlib
    import signal
    import threading

    from loopline.core.errors import LooplineError, RemoteError
    from loopline.rollout.controller import Controller

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    controllers: dict[str, Any] = {}
    said: dict[str, str] = {}
    while not stop.is_set():
        active = rollouts.sql.active_deployments()
        if not active and not forever:
            return
        for name in active:
            try:
                if name not in controllers:
                    controllers[name] = Controller(rollouts, _source(rollouts.current(name).spec))
                controller = controllers[name]
                with contextlib.suppress(RemoteError):  # a missed snapshot widens a window
                    controller.source.observe(name)
                row = controller.tick(name)
                if not row.active:
                    click.echo(f"{name}: {row.phase} — {row.reason or ''}")
                    rollouts.sql.release(row.id, controller.owner)
                    del controllers[name]
            except LooplineError as exc:  # one rollout's trouble must not stop the others
                if said.get(name) != exc.message:  # once, not every second
                    click.echo(f"{name}: {exc.message}", err=True)
                said[name] = exc.message
            else:
                said.pop(name, None)
        stop.wait(1.0)


def _drive(rollouts: Any, deployment: str, as_json: bool) -> None:
    from loopline.rollout.controller import Controller

    row = rollouts.current(deployment)
    _attach_istio(rollouts, row.spec.get("source") or {})
    controller = Controller(rollouts, _source(row.spec))
    live = sys.stdout.isatty() and not as_json
    view = _LiveView(rollouts, deployment) if live else None
    seen = len(rollouts.status(deployment)["events"])

    def on_tick(_: Any) -> None:
        nonlocal seen
        if view is not None:
            view.update()
            return
        if as_json:
            return
        events = rollouts.status(deployment)["events"]
        for event in events[seen:]:
            click.echo(_event_line(event))
        seen = len(events)

    def on_wait(until: float) -> None:
        click.echo(
            "waiting for the previous controller's lease (until "
            f"{time.strftime('%H:%M:%S UTC', time.gmtime(until))}); it may have been killed",
            err=True,
        )

    try:
        if view is not None:
            with view:
                final = controller.run(deployment, on_tick=on_tick, on_wait=on_wait)
        else:
            final = controller.run(deployment, on_tick=on_tick, on_wait=on_wait)
    except KeyboardInterrupt:
        click.echo(
            f"stopped following; the rollout stays {rollouts.current(deployment).phase} — "
            f"resume with `loopline rollout run {deployment}`",
            err=True,
        )
        raise SystemExit(130) from None
    if as_json:
        echo_json(rollouts.status(deployment))
    else:
        click.echo(f"{deployment}: {final.phase} — {final.reason or ''}".rstrip(" —"))
    if final.phase != "Succeeded":
        raise SystemExit(1)


def _event_line(event: dict[str, Any]) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(event["at"]))
    text = f"{when}  {event['action']:<12} weight {event['weight']:>3}%"
    if event.get("reason"):
        text += f"  {event['reason']}"
    for check in event.get("checks", []):
        value = "-" if check["value"] is None else f"{check['value']:.4g}"
        mark = {True: "ok", False: "FAIL", None: "wait"}[check["passed"]]
        text += f"\n            {check['check']:<20} {value:>10} (limit {check['limit']:g}) {mark}"
    return text


class _LiveView:
    """A live table in the terminal: weight, each check against its limit, next step."""

    def __init__(self, rollouts: Any, deployment: str) -> None:
        from rich.live import Live

        self.rollouts = rollouts
        self.deployment = deployment
        self.live = Live(self._render(), refresh_per_second=2, transient=False)

    def __enter__(self) -> _LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.update()
        self.live.__exit__(None, None, None)

    def update(self) -> None:
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        status = self.rollouts.status(self.deployment)
        table = Table(
            title=f"{self.deployment}: {status['phase']} at {status['weight']}% "
            f"(steps {status['steps']}, failed checks {status['failed_checks']}/"
            f"{status['threshold']})"
        )
        for column in ("check", "value", "limit", "result", "samples"):
            table.add_column(column)
        checks: list[dict[str, Any]] = next(
            (e["checks"] for e in reversed(status["events"]) if e.get("checks")), []
        )
        for check in checks:
            value = "-" if check["value"] is None else f"{check['value']:.4g}"
            result = {True: "[green]pass", False: "[red]fail", None: "[yellow]waiting"}[
                check["passed"]
            ]
            table.add_row(check["check"], value, f"{check['limit']:g}", result,
                          str(check["samples"]))  # fmt: skip
        if status["next_check_at"]:
            left = max(0.0, status["next_check_at"] - time.time())
            table.caption = f"next check in {left:.0f}s"
        elif status["reason"]:
            table.caption = status["reason"]
        return table


def _simple(verb: str, doc: str) -> click.Command:
    @click.argument("deployment")
    @uri_option
    @json_option
    def command(deployment: str, tracking_uri: str | None, as_json: bool) -> None:
        rollouts = _rollouts(tracking_uri)
        row = getattr(rollouts, verb)(deployment)
        if as_json:
            echo_json(rollouts.status(deployment))
        else:
            click.echo(f"{deployment}: {row.phase} at {row.weight}%")
            if verb == "abort" and row.reason:
                click.echo(f"reason: {row.reason}")

    command.__doc__ = doc
    return click.command(verb)(command)


for _verb, _doc in (
    ("pause", "Stop stepping DEPLOYMENT's rollout (traffic stays where it is)."),
    ("resume", "Continue a paused rollout."),
    ("promote", "Promote the candidate now, skipping the remaining steps."),
    ("abort", "Roll back now: candidate weight 0, alias untouched."),
):
    rollout_group.add_command(_simple(_verb, _doc))


@rollout_group.command("status")
@click.argument("deployment")
@uri_option
@json_option
def status_command(deployment: str, tracking_uri: str | None, as_json: bool) -> None:
    """Phase, weight and failed checks of DEPLOYMENT's current (or last) rollout."""
    status = _rollouts(tracking_uri).status(deployment)
    if as_json:
        echo_json(status)
        return
    click.echo(
        f"{deployment}: {status['phase']} at {status['weight']}% of steps {status['steps']}, "
        f"failed checks {status['failed_checks']}/{status['threshold']}"
    )
    click.echo(f"candidate: {status['candidate_uri']}")
    if status["reason"]:
        click.echo(f"reason: {status['reason']}")
    if status["events"]:
        click.echo(_event_line(status["events"][-1]))


@rollout_group.command("history")
@click.argument("deployment")
@uri_option
@json_option
def history_command(deployment: str, tracking_uri: str | None, as_json: bool) -> None:
    """Every rollout decision on DEPLOYMENT, with the values it was based on."""
    events = _rollouts(tracking_uri).events(deployment)
    if as_json:
        echo_json(events)
        return
    if not events:
        click.echo(f"{deployment} has had no rollout")
        return
    echo_table(
        ["time", "rollout", "action", "weight", "reason"],
        [
            [time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"])), e["rollout"][:8],
             e["action"], f"{e['weight']}%", e.get("reason", "")]
            for e in events
        ],
    )  # fmt: skip
