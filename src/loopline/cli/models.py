"""``loopline models``: the registry from the command line."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from loopline.cli._output import echo_json, echo_table
from loopline.core.errors import LooplineError

__all__ = ["models_group"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
uri_option = click.option(
    "--tracking-uri",
    envvar="LOOPLINE_TRACKING_URI",
    help="Database URL or folder (default: the project's store).",
)


def _registry(tracking_uri: str | None) -> Any:
    from loopline.registry import RegistryClient

    return RegistryClient(tracking_uri)


def _time(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def version_json(v: Any) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "source": v.source,
        "run_id": v.run_id,
        "status": v.status,
        "description": v.description,
        "aliases": list(v.aliases),
        "tags": dict(v.tags),
        "creation_timestamp": v.creation_timestamp,
    }


@click.group("models")
def models_group() -> None:
    """Register models, move aliases, trace a version back to its data and code."""


@models_group.command("list")
@click.option("-f", "--filter", "filter_string", default="", help="e.g. \"name LIKE 'churn%'\"")
@uri_option
@json_option
def models_list(filter_string: str, tracking_uri: str | None, as_json: bool) -> None:
    """List registered models with their latest version and aliases."""
    found = _registry(tracking_uri).search_registered_models(filter_string or None)
    if as_json:
        echo_json(
            [
                {
                    "name": m.name,
                    "description": m.description,
                    "tags": dict(m.tags),
                    "aliases": dict(m.aliases),
                    "latest_version": m.latest_versions[0].version if m.latest_versions else None,
                }
                for m in found
            ]
        )
        return
    rows = [
        (
            m.name,
            m.latest_versions[0].version if m.latest_versions else "-",
            ", ".join(f"{a}={v}" for a, v in sorted(m.aliases.items())),
            _time(m.last_updated_timestamp),
        )
        for m in found
    ]
    echo_table(("name", "latest", "aliases", "updated"), rows)


@models_group.command("show")
@click.argument("name")
@uri_option
@json_option
def models_show(name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a registered model and all its versions."""
    registry = _registry(tracking_uri)
    model = registry.get_registered_model(name)
    versions = registry.search_model_versions(f"name = '{name}'")
    if as_json:
        echo_json(
            {
                "name": model.name,
                "description": model.description,
                "tags": dict(model.tags),
                "aliases": dict(model.aliases),
                "versions": [version_json(v) for v in versions],
            }
        )
        return
    click.echo(f"{model.name}" + (f": {model.description}" if model.description else ""))
    echo_table(
        ("version", "aliases", "run", "created", "source"),
        [
            (
                v.version,
                ", ".join(v.aliases),
                (v.run_id or "")[:12],
                _time(v.creation_timestamp),
                v.source,
            )
            for v in versions
        ],
    )


@models_group.command("register")
@click.argument("model_uri")
@click.option("--name", required=True, help="Registered model name (created if new).")
@uri_option
@json_option
def models_register(model_uri: str, name: str, tracking_uri: str | None, as_json: bool) -> None:
    """Register MODEL_URI (runs:/<id>/model, models:/..., or a model folder) as a new version."""
    version = _registry(tracking_uri).register(model_uri, name)
    if as_json:
        echo_json(version_json(version))
    else:
        click.echo(f"Registered {model_uri} as {name} version {version.version}")


@models_group.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead.")
@uri_option
def models_alias(
    name: str, alias: str, version: str | None, delete: bool, tracking_uri: str | None
) -> None:
    """Point ALIAS of model NAME at VERSION (moves it if set), or --delete it."""
    registry = _registry(tracking_uri)
    if delete:
        registry.delete_alias(name, alias)
        click.echo(f"Deleted alias {alias!r} of {name}")
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias should point at, or --delete")
    registry.set_alias(name, alias, version)
    click.echo(f"{name}@{alias} -> version {version}")


@models_group.command("lineage")
@click.argument("name")
@click.argument("version")
@uri_option
@json_option
def models_lineage(name: str, version: str, tracking_uri: str | None, as_json: bool) -> None:
    """Trace a model version to its run, params, metrics, data versions and code commit."""
    lin = _registry(tracking_uri).lineage(name, version)
    if as_json:
        echo_json(
            {
                "model_version": version_json(lin.model_version),
                "run_id": lin.run_id,
                "experiment_id": lin.experiment_id,
                "run_name": lin.run_name,
                "params": dict(lin.params),
                "metrics": dict(lin.metrics),
                "data": [{"path": p, "oid": o} for p, o in lin.data],
                "git_commit": lin.git_commit,
                "git_dirty": lin.git_dirty,
                "python": lin.python,
                "source": lin.source,
            }
        )
        return
    click.echo(f"{name} version {lin.model_version.version}  <-  {lin.source}")
    if lin.run_id:
        click.echo(f"  run        {lin.run_id} ({lin.run_name}) in experiment {lin.experiment_id}")
    if lin.git_commit:
        click.echo(
            f"  code       git {lin.git_commit}"
            + (" (uncommitted changes)" if lin.git_dirty else "")
        )
    for path, oid in lin.data:
        click.echo(f"  data       {path} @ {oid}")
    if lin.python:
        click.echo(f"  python     {lin.python}")
    for key, value in sorted(lin.params.items()):
        click.echo(f"  param      {key} = {value}")
    for key, value in sorted(lin.metrics.items()):
        click.echo(f"  metric     {key} = {value:.6g}")


@models_group.command("delete")
@click.argument("name")
@click.option("--version", help="Delete only this version (its number is never reused).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@uri_option
def models_delete(name: str, version: str | None, yes: bool, tracking_uri: str | None) -> None:
    """Delete model NAME with all its versions and aliases, or one --version of it.

    As in MLflow, aliases pointing at a deleted version are deleted with it: a server that
    follows such an alias keeps the model it has loaded and reports the alias as missing."""
    registry = _registry(tracking_uri)
    if version is not None:
        found = registry.get_model_version(name, version)
        what = f"version {found.version} of model {name}"
        aliases = list(found.aliases)
    else:
        model = registry.get_registered_model(name)
        count = len(registry.search_model_versions(f"name = '{name}'"))
        what = f"model {name} and its {count} version{'' if count == 1 else 's'}"
        aliases = sorted(model.aliases)
    if aliases:
        what += f" (with alias{'' if len(aliases) == 1 else 'es'} {', '.join(aliases)})"
    latest = version is not None and _is_latest(registry, name, int(version))
    users = _deployments_using(registry, name, version, aliases, latest)
    if users:
        click.secho(f"warning: deployments serve it: {', '.join(users)}", fg="yellow", err=True)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(f"deleting {what} cannot be undone: pass -y to confirm")
        click.confirm(f"Delete {what}?", abort=True)
    if version is not None:
        registry.delete_model_version(name, version)
    else:
        registry.delete_registered_model(name)
    click.echo(f"Deleted {what}")


@models_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@uri_option
def models_rename(name: str, new_name: str, tracking_uri: str | None) -> None:
    """Rename model NAME to NEW_NAME, keeping its versions, tags and aliases.

    models:/NAME/... URIs stop resolving, as in MLflow: point deployments at the new name."""
    registry = _registry(tracking_uri)
    registry.rename_registered_model(name, new_name)
    click.echo(f"Renamed model {name} to {new_name} (use models:/{new_name}/... from now on)")
    users = _deployments_using(registry, name, None, [], False)
    if users:
        click.secho(
            f"warning: deployments still name models:/{name}: {', '.join(users)}; "
            "point them at the new name with `loopline deploy`",
            fg="yellow",
            err=True,
        )


def _is_latest(registry: Any, name: str, version: int) -> bool:
    found = registry.search_model_versions(f"name = '{name}'")
    return bool(found) and max(v.version for v in found) == version


def _deployments_using(
    registry: Any, name: str, version: str | None, aliases: list[str], latest: bool
) -> list[str]:
    """``deployment/variant`` of every deployment whose model URI names the model (or, with
    ``version``, that version: by number, by one of its aliases, or as the latest)."""
    store = getattr(registry.backend, "store", None)
    if store is None:  # a tracking server: its deployments are not ours to read
        return []
    from loopline.core.uris import parse_model_uri
    from loopline.rollout.deployments import Deployments

    found = []
    for deployment in Deployments(store).all():
        for variant, uri in sorted(deployment.variants.items()):
            try:
                parsed = parse_model_uri(uri)
            except LooplineError:
                continue
            if parsed.kind != "registry" or parsed.name != name:
                continue
            if version is not None and not (
                parsed.version == int(version)
                or (parsed.alias is not None and parsed.alias in aliases)
                or (parsed.version is None and parsed.alias is None and latest)
            ):
                continue
            found.append(f"{deployment.name}/{variant} ({uri})")
    return found
