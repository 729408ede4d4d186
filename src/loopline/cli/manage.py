"""Managing what is tracked: ``remove`` (untrack), ``move`` and ``commit``."""

from __future__ import annotations

import click

from loopline.cli._context import open_workspace
from loopline.cli._output import echo_json, git_add_args

__all__ = ["commit_command", "move_command", "remove_command"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.command("remove")
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@click.option("--outs", is_flag=True, help="Also delete the data from the workspace.")
@click.option(
    "-f", "--force", is_flag=True, help="With --outs, delete even changes not saved in the cache."
)
@json_option
@click.pass_context
def remove_command(
    ctx: click.Context, targets: tuple[str, ...], outs: bool, force: bool, as_json: bool
) -> None:
    """Stop tracking data: delete its pointer file and its .gitignore line.

    TARGETS are tracked paths, their .loopline files, or pipeline stages (removed from the
    pipeline file and the lock). The workspace data stays unless --outs is given; cached
    content stays until `loopline gc`.
    """
    from loopline.data.remove import remove, split_stage_targets

    with open_workspace(ctx) as ws:
        stage_targets, data_targets = split_stage_targets(ws, list(targets))
        results = remove(ws, data_targets, outs=outs, force=force) if data_targets else []
        stages = []
        if stage_targets:
            from loopline.pipeline._remove_stage import remove_stages

            stages = remove_stages(ws, stage_targets, outs=outs, force=force)
    if as_json:
        echo_json(
            [
                {"path": r.pointer.path, "pointer": r.pointer.file, "data_deleted": r.data_deleted}
                for r in results
            ]
            + [
                {"stage": s.name, "outs": list(s.outs), "data_deleted": s.outs_deleted}
                for s in stages
            ]
        )
        return
    for r in results:
        extra = " and deleted the data" if r.data_deleted else ""
        click.echo(f"Removed {r.pointer.file}{extra}")
    for s in stages:
        extra = " and deleted its outputs" if s.outs_deleted and s.outs else ""
        click.echo(f"Removed stage '{s.name}' from the pipeline file and the lock{extra}")
    click.echo("Commit the change with git (with the .gitignore files beside the data).")


@click.command("commit")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Also record a stage whose command, deps or params changed, or that never ran, "
    "without asking.",
)
@json_option
@click.pass_context
def commit_command(
    ctx: click.Context, targets: tuple[str, ...], force: bool, as_json: bool
) -> None:
    """Record the workspace's tracked data and stage outputs in pointers, lock and cache.

    TARGETS are stage names (`train`, `dvc.yaml:train`), stage outputs, tracked paths or
    pointer files (default: all). Like `dvc commit`: keeps outputs edited by hand, and after
    running a stage's command by hand the next `loopline repro` skips the stage. A stage whose
    command, deps or params changed (or that never ran) needs -f; on a terminal commit asks.
    """
    import sys

    from loopline.data.commit import commit

    with open_workspace(ctx) as ws:
        if not force and sys.stdin.isatty():
            preview = commit(ws, list(targets), dry=True)
            for name in preview.needs_force:
                click.echo(f"stage '{name}': {preview.stage_changes[name]}")
            if preview.needs_force:
                click.confirm("Record the workspace as these stages' result?", abort=True)
                force = True
        result = commit(ws, list(targets), force=force)
    if as_json:
        echo_json({"data": result.data, "stages": result.stages, "git_files": result.git_files})
        return
    for pointer in result.data:
        click.echo(f"Committed {pointer}")
    for name in result.stages:
        click.echo(f"Committed stage '{name}' to the lock.")
    if not (result.data or result.stages):
        click.echo("Nothing to commit: pointers and lock match the workspace.")
    elif result.git_files:
        click.echo(
            "To track the changes with git, run:\n\n"
            f"\tgit add {git_add_args(ws.root, result.git_files)}\n"
        )


@click.command("move")
@click.argument("src", type=click.Path())
@click.argument("dst", type=click.Path())
@click.pass_context
def move_command(ctx: click.Context, src: str, dst: str) -> None:
    """Rename tracked data SRC to DST, with its pointer file and .gitignore lines.

    If interrupted, run the same command again: it finishes the move without losing data.
    """
    from loopline.data.move import move

    with open_workspace(ctx) as ws:
        result = move(ws, src, dst)
    click.echo(f"Moved {result.source.path} -> {result.destination.path}")
    click.echo(
        f"Commit the change with git: {result.source.file} -> {result.destination.file}, "
        "and the .gitignore files beside them."
    )
