"""``loopline deploy``: deployments — named model variants and the traffic split between them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from loopline.cli._output import echo_json, echo_table
from loopline.core.errors import InvalidInput

__all__ = ["deploy_group"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
uri_option = click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Database URL or folder of the metadata store (default: the project's store).",
)


def deployments(tracking_uri: str | None) -> Any:
    """The deployments of the metadata store behind ``tracking_uri``; model URIs are checked."""
    from loopline.core.uris import parse_model_uri
    from loopline.rollout.deployments import Deployments
    from loopline.store import open_store
    from loopline.tracking._uri import resolve_tracking_uri

    target = resolve_tracking_uri(tracking_uri)
    if target.server_url:
        raise InvalidInput(
            f"deployments are kept in the metadata store itself, not behind the tracking "
            f"server {target.server_url}",
            hint="point --tracking-uri (or LOOPLINE_TRACKING_URI) at the server's database URL",
        )

    def check_model(uri: str) -> None:
        parsed = parse_model_uri(uri)
        if parsed.kind == "path":
            _check_folder(Path(parsed.path or ""), uri)
        elif parsed.kind == "registry":
            from loopline.registry import RegistryClient

            RegistryClient(tracking_uri).resolve_version(uri)

    return Deployments(open_store(target.store_url), check_model)


def _check_folder(folder: Path, uri: str) -> None:
    """A variant given as a folder must be a saved model, or no server could ever load it."""
    from loopline.core.errors import NotFound

    if not folder.is_dir():
        raise NotFound(
            f"model folder {uri} does not exist",
            hint="give the folder of a saved model (it holds an MLmodel file), or a models:/ URI",
        )
    if not (folder / "MLmodel").is_file():
        raise InvalidInput(
            f"{uri} is not a model folder (no MLmodel file in it)",
            hint="give the folder that holds the MLmodel file",
        )


def _rules(policy: Any) -> str:
    """The routing rules beside the weights, flagged in one word each."""
    flags = []
    if policy.shadow:
        flags.append(f"shadow->{policy.shadow.variant}")
    if policy.faults:
        flags.append(f"faults:{','.join(sorted(policy.faults))}")
    if policy.routes:
        flags.append(f"routes:{len(policy.routes)}")
    if policy.sticky_header or policy.sticky_cookie:
        flags.append("sticky")
    return " ".join(flags)


def _fault_text(fault: Any) -> str:
    parts = []
    if fault.abort_status is not None:
        parts.append(f"abort {fault.abort_percent:g}% with HTTP {fault.abort_status}")
    if fault.delay_seconds:
        parts.append(f"delay {fault.delay_percent:g}% by {fault.delay_seconds:g} s")
    return ", ".join(parts) or "none"


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _split(weights: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in weights.items())


def _variants(pairs: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, uri = pair.partition("=")
        if not sep or not name.strip() or not uri.strip():
            raise InvalidInput(
                f"--variant {pair!r} is not NAME=MODEL_URI",
                hint="e.g. --variant candidate=models:/churn/4",
            )
        if name.strip() in found:
            raise InvalidInput(f"variant {name.strip()!r} is given twice")
        found[name.strip()] = uri.strip()
    return found


@click.group("deploy")
def deploy_group() -> None:
    """Deployments: variants (each a model URI) served under one name, and the traffic policy
    that splits requests between them. `loopline serve --deployment NAME` serves one."""


@deploy_group.command("create")
@click.argument("name")
@click.option("--model", "model_uri", required=True, help="Model URI of the primary variant.")
@click.option("--primary-name", default="champion", show_default=True, help="Name of that variant.")
@click.option(
    "--variant", "extra", multiple=True, metavar="NAME=URI", help="More variants (weight 0)."
)
@click.option("--sticky-header", metavar="HEADER", help="Assign requests by this header's value.")
@uri_option
@json_option
def create_command(
    name: str,
    model_uri: str,
    primary_name: str,
    extra: tuple[str, ...],
    sticky_header: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Create deployment NAME serving MODEL (all traffic) plus any extra variants (none)."""
    variants = {primary_name: model_uri, **_variants(extra)}
    if len(variants) != len(extra) + 1:
        raise InvalidInput(f"--variant repeats the primary variant's name {primary_name!r}")
    created = deployments(tracking_uri).create(
        name, variants, primary=primary_name, sticky_header=sticky_header
    )
    if as_json:
        echo_json(created.to_dict())
    else:
        click.echo(f"created deployment {name}: {_split(dict(created.policy.weights))}")


@deploy_group.command("list")
@uri_option
@json_option
def list_command(tracking_uri: str | None, as_json: bool) -> None:
    """List deployments with their traffic split."""
    found = deployments(tracking_uri).all()
    if as_json:
        echo_json([d.to_dict() for d in found])
        return
    if not found:
        click.echo("no deployments; create one with `loopline deploy create NAME --model URI`")
        return
    echo_table(
        ["name", "traffic", "rules", "revision", "updated"],
        [
            [d.name, _split(dict(d.policy.weights)), _rules(d.policy), d.revision,
             _time(d.updated_at)]
            for d in found
        ],
    )  # fmt: skip


@deploy_group.command("show")
@click.argument("name")
@uri_option
@json_option
def show_command(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Variants, weights and routing rules of deployment NAME."""
    found = deployments(tracking_uri).get(name)
    if as_json:
        echo_json(found.to_dict())
        return
    policy = found.policy
    click.echo(f"deployment {found.name} (revision {found.revision})")
    echo_table(
        ["variant", "model", "weight", "role"],
        [
            [v, uri, f"{policy.weights[v]}%", "primary" if v == policy.primary else ""]
            for v, uri in found.variants.items()
        ],
    )
    if policy.sticky_header:
        click.echo(f"sticky by header: {policy.sticky_header}")
    if policy.sticky_cookie:
        click.echo(f"sticky by cookie: {policy.sticky_cookie}")
    for route in policy.routes:
        click.echo(f"header route: {route.name}: {route.value} -> {route.variant}")
    if policy.shadow:
        click.echo(f"shadow: {policy.shadow.percent:g}% copied to {policy.shadow.variant}")
    for variant, fault in sorted(policy.faults.items()):
        click.echo(f"fault on {variant}: {_fault_text(fault)}")


@deploy_group.command("set-traffic")
@click.argument("name")
@click.argument("weights", nargs=-1, required=True)
@uri_option
@json_option
def set_traffic_command(
    name: str, weights: tuple[str, ...], tracking_uri: str | None, as_json: bool
) -> None:
    """Set the split, e.g. `set-traffic churn champion=90 candidate=10` (sums to 100;
    variants not named get 0). Running servers follow within seconds."""
    from loopline.rollout.deployments import parse_weights

    changed = deployments(tracking_uri).set_traffic(name, parse_weights(weights))
    if as_json:
        echo_json(changed.to_dict())
    else:
        click.echo(f"{name}: {_split(dict(changed.policy.weights))} (revision {changed.revision})")


@deploy_group.command("add-variant")
@click.argument("name")
@click.argument("variant", metavar="VARIANT=URI")
@uri_option
def add_variant_command(name: str, variant: str, tracking_uri: str | None) -> None:
    """Add a variant at weight 0."""
    ((variant_name, uri),) = _variants((variant,)).items()
    deployments(tracking_uri).add_variant(name, variant_name, uri)
    click.echo(f"{name}: added variant {variant_name} ({uri}) at weight 0")


@deploy_group.command("remove-variant")
@click.argument("name")
@click.argument("variant")
@uri_option
def remove_variant_command(name: str, variant: str, tracking_uri: str | None) -> None:
    """Retire a variant that receives no traffic."""
    deployments(tracking_uri).remove_variant(name, variant)
    click.echo(f"{name}: removed variant {variant}")


@deploy_group.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@uri_option
def delete_command(name: str, yes: bool, tracking_uri: str | None) -> None:
    """Delete deployment NAME (its history is kept). Running servers of it keep serving the
    last policy until restarted; stop them to stop answering for it."""
    import contextlib

    from loopline.core.errors import StoreError

    store = deployments(tracking_uri)
    # A damaged row can still be deleted: that is the fix its error message gives.
    with contextlib.suppress(StoreError):
        store.get(name)
    if not yes:
        click.confirm(f"delete deployment {name}?", abort=True)
    store.delete(name)
    click.echo(
        f"deleted deployment {name}; running servers keep serving its last policy until "
        "restarted (stop them to stop answering for it)"
    )


@deploy_group.command("history")
@click.argument("name")
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Only the last N events.")
@uri_option
@json_option
def history_command(name: str, limit: int | None, tracking_uri: str | None, as_json: bool) -> None:
    """Every change of deployment NAME, oldest first."""
    events = deployments(tracking_uri).history(name, limit)
    if not events:
        from loopline.core.errors import NotFound

        raise NotFound(f"deployment {name!r} has no history: it never existed")
    if as_json:
        echo_json(
            [
                {"revision": e.revision, "at": e.at, "kind": e.kind, "detail": e.detail}
                for e in events
            ]
        )
        return
    echo_table(
        ["time", "revision", "event", "detail"],
        [[_time(e.at), e.revision, e.kind, _summary(e.kind, e.detail)] for e in events],
    )


def _summary(kind: str, detail: dict[str, Any]) -> str:
    if kind == "traffic":
        text = f"{_split(detail.get('from', {}))} -> {_split(detail.get('to', {}))}"
        return f"{text} ({detail['reason']})" if detail.get("reason") else text
    if kind == "created":
        return " ".join(f"{k}={v}" for k, v in detail.get("variants", {}).items())
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in ("", None))
