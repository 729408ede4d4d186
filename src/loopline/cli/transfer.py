"""``loopline push``, ``pull`` and ``fetch``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from loopline.cli._context import open_workspace
from loopline.cli._output import echo_json, terminal_progress

if TYPE_CHECKING:
    from loopline.data.revisions import RevisionScope

__all__ = ["fetch_command", "pull_command", "push_command"]


def revision_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``-a``/``-T``/``-A``: also cover what other git revisions' pointers and lock name."""
    for flag in (
        click.option(
            "-A",
            "--all-commits",
            is_flag=True,
            help="Also the data of every commit in the git history.",
        ),
        click.option("-T", "--all-tags", is_flag=True, help="Also the data of every git tag."),
        click.option(
            "-a", "--all-branches", is_flag=True, help="Also the data of every git branch."
        ),
    ):
        command = flag(command)
    return command


def _scope(all_branches: bool, all_tags: bool, all_commits: bool) -> RevisionScope:
    from loopline.data.revisions import RevisionScope

    return RevisionScope(all_branches, all_tags, all_commits)


@click.command("push")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
@click.option(
    "--verify",
    is_flag=True,
    help="Also download and re-hash the remote's copies, replacing damaged ones.",
)
@revision_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def push_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    verify: bool,
    all_branches: bool,
    all_tags: bool,
    all_commits: bool,
    as_json: bool,
) -> None:
    """Upload tracked data the remote does not have yet (never an object whose bytes no
    longer match its id)."""
    from loopline.data.transfer import push

    scope = _scope(all_branches, all_tags, all_commits)
    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        result = push(
            ws,
            list(targets),
            remote=remote,
            verify=verify,
            scope=scope,
            progress=terminal_progress(),
        )
    if as_json:
        echo_json(result.__dict__)
    else:
        click.echo(
            f"{result.pushed} objects pushed to '{result.remote}' "
            f"({result.already_there} already there"
            + (f", {result.repaired} damaged remote copies replaced" if result.repaired else "")
            + ")"
        )
        if result.not_in_cache:
            click.echo(
                f"{result.not_in_cache} objects of other revisions are not in the local cache "
                "and were skipped"
            )


@click.command("pull")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
@click.option(
    "-f", "--force", is_flag=True, help="Overwrite workspace changes not saved in the cache."
)
@revision_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def pull_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    force: bool,
    all_branches: bool,
    all_tags: bool,
    all_commits: bool,
    as_json: bool,
) -> None:
    """Download tracked data from a remote (verifying every object) and check it out.

    With -a/-T/-A the data of other revisions is fetched into the cache too; only the
    workspace's data is checked out.
    """
    from loopline.data.transfer import pull

    scope = _scope(all_branches, all_tags, all_commits)
    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        result = pull(
            ws,
            list(targets),
            remote=remote,
            force=force,
            scope=scope,
            progress=terminal_progress(),
        )
    changed = [c for c in result.checkout if c.action != "unchanged"]
    if as_json:
        echo_json(
            {
                "remote": result.remote,
                "fetched": result.fetched,
                "unavailable": result.unavailable,
                "checked_out": [{"path": c.pointer.path, "action": c.action} for c in changed],
            }
        )
        return
    click.echo(f"{result.fetched} objects fetched from '{result.remote}'")
    _echo_unavailable(result.unavailable)
    for c in changed:
        click.echo(f"{'A' if c.action == 'added' else 'M'}\t{c.pointer.path}")


@click.command("fetch")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-r", "--remote", help="Remote name (default: core.remote).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Parallel transfers.")
@revision_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def fetch_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    remote: str | None,
    jobs: int | None,
    all_branches: bool,
    all_tags: bool,
    all_commits: bool,
    as_json: bool,
) -> None:
    """Download tracked data into the cache (verifying every object) without checking it out.

    Run `loopline checkout` later (also offline) to put it in the workspace.
    """
    from loopline.data.transfer import fetch

    scope = _scope(all_branches, all_tags, all_commits)
    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        result = fetch(ws, list(targets), remote=remote, scope=scope, progress=terminal_progress())
    if as_json:
        echo_json(result.__dict__)
        return
    click.echo(f"{result.fetched} objects fetched from '{result.remote}'")
    _echo_unavailable(result.unavailable)


def _echo_unavailable(count: int) -> None:
    if count:
        click.echo(f"{count} objects of other revisions are not on the remote and were skipped")
