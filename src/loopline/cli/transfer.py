"""``loopline push`` and ``loopline pull``."""

from __future__ import annotations

import click

from loopline.cli._context import open_workspace
from loopline.cli._output import echo_json, terminal_progress

__all__ = ["pull_command", "push_command"]


@click.command("push")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
@click.option(
    "--verify",
    is_flag=True,
    help="Also download and re-hash the remote's copies, replacing damaged ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def push_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    verify: bool,
    as_json: bool,
) -> None:
    """Upload tracked data the remote does not have yet (never an object whose bytes no
    longer match its id)."""
    from loopline.data.transfer import push

    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        result = push(ws, list(targets), remote=remote, verify=verify, progress=terminal_progress())
    if as_json:
        echo_json(result.__dict__)
    else:
        click.echo(
            f"{result.pushed} objects pushed to '{result.remote}' "
            f"({result.already_there} already there"
            + (f", {result.repaired} damaged remote copies replaced" if result.repaired else "")
            + ")"
        )


@click.command("pull")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
@click.option(
    "-f", "--force", is_flag=True, help="Overwrite workspace changes not saved in the cache."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def pull_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Download tracked data from a remote (verifying every object) and check it out."""
    from loopline.data.transfer import pull

    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        result = pull(ws, list(targets), remote=remote, force=force, progress=terminal_progress())
    changed = [c for c in result.checkout if c.action != "unchanged"]
    if as_json:
        echo_json(
            {
                "remote": result.remote,
                "fetched": result.fetched,
                "checked_out": [{"path": c.pointer.path, "action": c.action} for c in changed],
            }
        )
        return
    click.echo(f"{result.fetched} objects fetched from '{result.remote}'")
    for c in changed:
        click.echo(f"{'A' if c.action == 'added' else 'M'}\t{c.pointer.path}")
