"""``loopline remote``: add, list, modify, remove and choose the default remote."""

from __future__ import annotations

import click

from loopline.cli._output import echo_json, echo_table
from loopline.core.project import ProjectPaths

__all__ = ["remote_group"]


def _paths() -> ProjectPaths:
    from loopline.core.project import find_project_root

    return ProjectPaths(find_project_root())


@click.group("remote")
def remote_group() -> None:
    """Manage remote storages (a folder, s3://bucket/path, http://... read-only)."""


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "-d", "--default", "make_default", is_flag=True, help="Also make it the default remote."
)
@click.option("-f", "--force", is_flag=True, help="Replace a remote with the same name.")
@click.option("--local", is_flag=True, help="Write to config.local.yaml (not committed).")
def add(name: str, url: str, make_default: bool, force: bool, local: bool) -> None:
    """Add remote NAME at URL."""
    from loopline.data.remotes import add_remote

    add_remote(_paths(), name, url, default=make_default, force=force, local=local)
    click.echo(f"Added remote '{name}' -> {url}" + (" (default)" if make_default else ""))


@remote_group.command("modify")
@click.argument("name")
@click.argument("option")
@click.argument("value", required=False)
@click.option("-u", "--unset", is_flag=True, help="Remove the option.")
@click.option("--local", is_flag=True, help="Write to config.local.yaml (for credentials).")
def modify(name: str, option: str, value: str | None, unset: bool, local: bool) -> None:
    """Set an fsspec OPTION of remote NAME, e.g. endpoint_url http://127.0.0.1:8333."""
    from loopline.data.remotes import modify_remote

    if value is None and not unset:
        raise click.UsageError("give a VALUE, or --unset to remove the option")
    modify_remote(_paths(), name, option, None if unset else value, local=local)
    click.echo(f"{'Unset' if unset else 'Set'} {option} on remote '{name}'")


@remote_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_(as_json: bool) -> None:
    """List configured remotes."""
    from loopline.data.remotes import list_remotes

    remotes = list_remotes(_paths())
    if as_json:
        echo_json(
            [
                {
                    "name": r.name,
                    "url": r.url,
                    "default": r.is_default,
                    "options": {k: ("***" if _secret(k) else v) for k, v in r.options.items()},
                }
                for r in remotes
            ]
        )
        return
    if not remotes:
        click.echo("No remotes. Add one with `loopline remote add NAME URL`.")
        return
    echo_table(
        ("name", "url", "default"), [(r.name, r.url, "*" if r.is_default else "") for r in remotes]
    )


def _secret(key: str) -> bool:
    return any(word in key.lower() for word in ("secret", "password", "token", "key"))


@remote_group.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove remote NAME."""
    from loopline.data.remotes import remove_remote

    remove_remote(_paths(), name)
    click.echo(f"Removed remote '{name}'")


@remote_group.command("default")
@click.argument("name", required=False)
@click.option("--unset", is_flag=True, help="Clear the default remote.")
def default(name: str | None, unset: bool) -> None:
    """Show the default remote, or set it to NAME."""
    from loopline.core.config import load_settings
    from loopline.data.remotes import set_default_remote

    paths = _paths()
    if unset or name:
        set_default_remote(paths, None if unset else name)
        click.echo("Default remote cleared" if unset else f"Default remote is now '{name}'")
        return
    current = load_settings(paths.root).default_remote
    click.echo(current or "No default remote is set.")
