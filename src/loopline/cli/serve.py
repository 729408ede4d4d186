"""``loopline serve`` (the model server) and ``loopline feedback`` (true labels for logged
requests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from loopline.cli._output import echo_json

if TYPE_CHECKING:
    from loopline.serving.inference_log import FeedbackEntry

__all__ = ["feedback_command", "serve_command"]


@click.command("serve")
@click.argument("model_uris", nargs=-1, metavar="MODEL_URI...")
@click.option(
    "--deployment",
    metavar="NAME",
    help="Serve deployment NAME's variants under its name, routed by its traffic policy.",
)
@click.option("--name", help="Name clients use for the model (one MODEL_URI only).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--max-batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Most rows merged into one predict call.",
)
@click.option(
    "--max-batch-delay-ms",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, 10_000),
    help="Longest a request waits for others to join its batch (never when idle).",
)
@click.option(
    "--max-queue-rows",
    default=4096,
    show_default=True,
    type=click.IntRange(1),
    help="Rows waiting per model before requests get 503 + Retry-After (a request larger than "
    "a batch runs alone and holds one batch's room; only --max-body-mb limits its size).",
)
@click.option(
    "--max-body-mb",
    default=16.0,
    show_default=True,
    type=click.FloatRange(0.001),
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--versions",
    "version_policy",
    default="latest",
    show_default=True,
    help="For models:/NAME without version: latest, latest:N, all, or a list like 1,3.",
)
@click.option(
    "--log-sample-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of requests written to the inference log (Parquet).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    help="Where the inference log goes (default: .loopline/serving in the project).",
)
@click.option(
    "--poll-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds between checks for a moved alias or a new version.",
)
@click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Registry to resolve models:/ URIs (default: the project's store).",
)
@click.option("--trusted", is_flag=True, help="Allow pickle models and unlisted skops types.")
def serve_command(
    model_uris: tuple[str, ...],
    deployment: str | None,
    name: str | None,
    host: str,
    port: int,
    workers: int,
    max_batch_size: int,
    max_batch_delay_ms: float,
    max_queue_rows: int,
    max_body_mb: float,
    version_policy: str,
    log_sample_rate: float,
    log_dir: str | None,
    poll_interval: float,
    tracking_uri: str | None,
    trusted: bool,
) -> None:
    """Serve models over HTTP: KServe V2, TF-Serving REST and MLflow /invocations on one port.

    MODEL_URI is models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME (latest), runs:/ID/PATH
    or a model folder; NAME=URI sets the name clients use. An alias that moves is followed
    without dropping requests. Prometheus metrics are at /metrics.

    \b
    Examples:
      loopline serve models:/churn@champion
      loopline serve churn=models:/churn --versions latest:2 --workers 2
      loopline serve --deployment churn     # variants split by `loopline deploy`
      curl -H 'content-type: application/json' -d '{"inputs": [...]}' \\
        localhost:8080/v2/models/churn/infer
    """
    from loopline.core.errors import InvalidInput

    _require_serving_extra()
    from loopline.serving.runner import serve
    from loopline.serving.settings import ServeSettings, VersionPolicy, parse_model_argument

    if name and len(model_uris) > 1:
        raise InvalidInput("--name works with one MODEL_URI", hint="use NAME=URI for each model")
    if deployment is not None:
        if model_uris or name:
            raise InvalidInput(
                "--deployment serves the deployment's own variants: give no MODEL_URI or --name",
                hint=f"change its variants with `loopline deploy add-variant {deployment} ...`",
            )
        from loopline.serving.deployment import load_deployment, variant_specs

        specs = variant_specs(load_deployment(deployment, tracking_uri).get(deployment))
    elif not model_uris:
        raise InvalidInput(
            "nothing to serve",
            hint="give a MODEL_URI (e.g. models:/churn@champion) or --deployment",
        )
    else:
        policy = VersionPolicy.parse(version_policy)
        specs = tuple(parse_model_argument(uri, name, policy) for uri in model_uris)
    settings = ServeSettings(
        models=specs,
        host=host,
        port=port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_batch_delay_ms=max_batch_delay_ms,
        max_queue_rows=max(max_queue_rows, max_batch_size),
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        log_sample_rate=log_sample_rate,
        log_dir=str(Path(log_dir).resolve()) if log_dir else None,
        tracking_uri=tracking_uri,
        poll_interval_s=poll_interval,
        trusted=trusted,
        deployment=deployment,
    )

    def announce() -> None:
        names = ", ".join(f"{s.name} ({s.uri})" for s in specs)
        if deployment is not None:
            names = f"deployment {deployment}: {names}"
        click.echo(f"Serving {names} on http://{host}:{port} with {workers} worker(s)", err=True)

    serve(settings, on_ready=announce)


def _require_serving_extra() -> None:
    import importlib.util

    from loopline.core.errors import MissingExtra

    for module in ("numpy", "orjson", "prometheus_client", "pyarrow", "sklearn"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(module, "serve,ml")


@click.command("feedback")
@click.argument("request_id", required=False)
@click.argument("labels", nargs=-1)
@click.option(
    "--file",
    "csv_file",
    type=click.Path(dir_okay=False, exists=True),
    help="CSV with columns request_id,label (one line per label).",
)
@click.option("--log-dir", type=click.Path(file_okay=False), help="The server's --log-dir.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def feedback_command(
    request_id: str | None,
    labels: tuple[str, ...],
    csv_file: str | None,
    log_dir: str | None,
    as_json: bool,
) -> None:
    """Record the true LABELS for a served request (its X-Request-ID), for monitoring.

    Several labels are one per row of a multi-row request. Same as POST /feedback.
    """
    from loopline.core.errors import InvalidInput

    _require_serving_extra()
    from loopline.serving.feedback import feedback_entry, label_count_warnings
    from loopline.serving.inference_log import (
        project_log_root,
        unlogged_request_ids,
        write_feedback,
    )

    entries: list[FeedbackEntry] = []
    if request_id is not None:
        if not labels:
            raise InvalidInput("give the label after the request id", hint="loopline feedback ID 1")
        entries.append(feedback_entry(request_id, [_number_or_text(v) for v in labels]))
    if csv_file:
        entries.extend(_read_feedback_csv(Path(csv_file)))
    if not entries:
        raise InvalidInput(
            "no feedback given", hint="loopline feedback REQUEST_ID LABEL, or --file"
        )
    root = Path(log_dir) if log_dir else project_log_root()
    unknown = unlogged_request_ids(root, [e.request_id for e in entries])
    warnings = label_count_warnings(root, entries)
    path = write_feedback(root, entries)
    rows = sum(len(e.labels) for e in entries)
    if unknown:
        _warn_unlogged(unknown, len(entries), root)
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if as_json:
        echo_json(
            {
                "recorded": len(entries),
                "labels": rows,
                "file": str(path),
                "unlogged_request_ids": unknown,
            }
        )
    else:
        click.echo(f"Recorded {rows} label(s) for {len(entries)} request(s) in {path}")


def _warn_unlogged(unknown: list[str], total: int, root: Path) -> None:
    sample = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
    click.secho(
        f"warning: {len(unknown)} of {total} request id(s) are not in the inference log under "
        f"{root} ({sample}); their labels are kept but cannot be matched to a prediction",
        fg="yellow",
        err=True,
    )
    click.echo(
        "hint: use the x-request-id the server returned for a logged request; the server logs "
        "only a --log-sample-rate share of requests (and to its --log-dir)",
        err=True,
    )


def _read_feedback_csv(path: Path) -> list[FeedbackEntry]:
    import csv

    from loopline.core.errors import InvalidInput
    from loopline.serving.feedback import feedback_entry

    grouped: dict[str, list[object]] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"request_id", "label"} <= set(reader.fieldnames):
            raise InvalidInput(f"{path} needs a header with request_id and label columns")
        for row in reader:
            grouped.setdefault(row["request_id"], []).append(_number_or_text(row["label"]))
    return [feedback_entry(rid, values) for rid, values in grouped.items()]


def _number_or_text(value: str) -> object:
    if value.lower() in ("true", "false"):  # stored as 1/0, as over HTTP
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
