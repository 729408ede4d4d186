"""Data-versioning commands: init, add, status, checkout, gc, diff, versions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from loopline.cli._context import open_workspace
from loopline.cli._output import (
    echo_json,
    echo_table,
    git_add_args,
    human_size,
    terminal_progress,
)
from loopline.core.progress import NO_PROGRESS, Progress

__all__ = [
    "add_command",
    "checkout_command",
    "diff_command",
    "gc_command",
    "init_command",
    "status_command",
    "versions_command",
]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
jobs_option = click.option(
    "-j", "--jobs", type=click.IntRange(1, 256), help="Parallel file operations."
)


@click.command("init")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init_command(quiet: bool, directory: str) -> None:
    """Make DIRECTORY (default: here) a Loopline project. Safe to run twice."""
    from loopline.data.init import init_project

    created = init_project(Path(directory))
    if quiet:
        return
    where = Path(directory).resolve()
    if created:
        click.echo(f"Initialized a Loopline project in {where}")
        click.echo("Track data with `loopline add PATH` and commit the .loopline pointer files.")
    else:
        click.echo(f"{where} is already a Loopline project; nothing changed")


@click.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--stage-outputs",
    is_flag=True,
    help="Track outputs the pipeline file declares as plain data (what a Kubeflow task does; "
    "elsewhere use `loopline repro` or `loopline commit`).",
)
@jobs_option
@json_option
@click.pass_context
def add_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    stage_outputs: bool,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Track files or folders: store their content and write PATH.loopline pointer files."""
    from loopline.data.add import add

    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        results = add(ws, list(paths), progress=_progress(as_json), stage_outputs=stage_outputs)
    if as_json:
        echo_json(
            [
                {
                    "path": r.pointer.path,
                    "pointer": r.pointer.file,
                    "oid": r.pointer.oid,
                    "size": r.pointer.size,
                    "nfiles": r.pointer.nfiles,
                    "new_objects": r.new_objects,
                    "changed": r.changed,
                }
                for r in results
            ]
        )
        return
    for r in results:
        files = f", {r.pointer.nfiles} files" if r.pointer.nfiles is not None else ""
        verb = "Added" if r.changed else "Unchanged"
        click.echo(
            f"{verb} {r.pointer.path} ({human_size(r.pointer.size)}{files}, "
            f"{r.new_objects} new objects) -> {r.pointer.file}"
        )
    if any(r.changed for r in results):
        click.echo(
            f"To track the change with git, run:\n\n\tgit add {_git_add_paths(ws.root, results)}\n"
        )


def _git_add_paths(root: Path, results: list[Any]) -> str:
    """The pointer files and the ``.gitignore`` files that hold their entries, relative to the
    current folder, where the user runs git."""
    import posixpath

    files = [r.pointer.file for r in results] + [
        posixpath.join(posixpath.dirname(r.pointer.path), ".gitignore") for r in results
    ]
    return git_add_args(root, [f for f in files if (root / f).exists()])


@click.command("status")
@click.argument("targets", nargs=-1, type=click.Path())
@json_option
@click.pass_context
def status_command(ctx: click.Context, targets: tuple[str, ...], as_json: bool) -> None:
    """Show tracked data that differs from its pointer file, and stale pipeline stages.

    TARGETS are data paths or stage names.
    """
    from loopline.data.status import status, status_as_json

    with open_workspace(ctx) as ws:
        stage_names, paths = _split_targets(ws, targets)
        changes = status(ws, paths) if paths or not targets else []
        stages = _stage_status(ws, stage_names, bool(targets))
        edits = _stage_edits(ws, stages) if stages and not as_json else []
    if as_json:
        from loopline.pipeline import stage_status_as_json

        echo_json({**status_as_json(changes), **stage_status_as_json(stages or [])})
        return
    if not changes and not stages:
        click.echo(
            "Data and pipelines are up to date." if stages is not None else "Data is up to date."
        )
        return
    for change in changes:
        click.echo(f"{change.pointer.file}:")
        click.echo("\tchanged outs:")
        label = change.state + ":"
        click.echo(f"\t\t{label.ljust(max(16, len(label) + 1))}{change.pointer.path}")
    for stage in stages or []:
        _echo_stage(stage)
    for hint in _status_hints(changes):
        click.echo(f"\n({hint})")
    if stages:
        click.echo("")
        for line in _edit_hints(edits):  # first: plain `repro` refuses until they are settled
            click.echo(f"({line})")
        click.echo("(use `loopline repro` to bring the stale stages up to date)")


def _stage_edits(ws: Any, stages: list[Any]) -> list[Any]:
    from loopline.pipeline import stage_edits

    return stage_edits(ws, stages)


def _edit_hints(edits: list[Any]) -> list[str]:
    """How to settle outs that `repro` would refuse to overwrite, one line per kind."""
    lines = []
    for edit in edits:
        if edit.left_by is not None:
            how = "was killed before it finished" if edit.left_by == "killed" else "failed"
            lines.append(
                f"the last run of stage '{edit.stage}' {how} and left {edit.path}: use "
                f"`{edit.discard_command()}` to run it again"
            )
    by_hand = list(dict.fromkeys(e.stage for e in edits if e.left_by is None))
    if by_hand:
        names = " ".join(by_hand)
        lines.append(
            f"outputs of {', '.join(repr(n) for n in by_hand)} were edited by hand and "
            f"`loopline repro` refuses to overwrite them: use `loopline commit {names}` to keep "
            f"the edits, `loopline repro --force -s {names}` to discard them"
        )
    return lines


def _status_hints(changes: list[Any]) -> list[str]:
    """What to do about each kind of change, naming only commands that will work."""
    states = {(c.state, c.in_cache) for c in changes}
    hints = []
    if ("modified", True) in states or ("modified", False) in states:
        hints.append("use `loopline add` to record changes, `loopline checkout` to discard them")
    if ("deleted", True) in states:
        hints.append("use `loopline checkout` to restore deleted data from the cache")
    if any(not in_cache for _, in_cache in states):
        hints.append(
            "data missing from the cache: fetch it with `loopline pull` (it also checks it out)"
        )
    if any(state == "corrupt in cache" for state, _ in states):
        paths = " ".join(c.pointer.path for c in changes if c.state == "corrupt in cache")
        hints.append(
            f"the cached copy is damaged: store the intact workspace copy again with "
            f"`loopline add {paths}`, or fetch it with `loopline pull`"
        )
    return hints


def _split_targets(ws: Any, targets: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Stage names (or foreach/matrix group names) and data paths among ``targets``."""
    if not targets:
        return [], []
    from loopline.pipeline import has_pipeline, load_pipeline

    names: set[str] = set()
    if has_pipeline(ws):
        for name in load_pipeline(ws.root).stages:
            names.update((name, name.split("@", 1)[0]))
    return [t for t in targets if t in names], [t for t in targets if t not in names]


def _stage_status(ws: Any, names: list[str], targeted: bool) -> list[Any] | None:
    """Stale stages, or None when the project has no pipeline file."""
    from loopline.pipeline import has_pipeline, stage_status

    if not has_pipeline(ws):
        return None
    if targeted and not names:
        return []
    return stage_status(ws, names)


def _echo_stage(stage: Any) -> None:
    click.echo(f"{stage.name}:")
    for title, items in (("changed deps", stage.deps), ("changed outs", stage.outs)):
        if not items:
            continue
        click.echo(f"\t{title}:")
        for path, state in items.items():
            if isinstance(state, dict):
                click.echo(f"\t\t{path}:")
                for key, key_state in state.items():
                    click.echo(f"\t\t\t{key_state + ':':<20}{key}")
            else:
                click.echo(f"\t\t{state + ':':<20}{path}")
    if stage.always:
        click.echo("\talways changed")
    if stage.command:
        click.echo("\tchanged command")


@click.command("checkout")
@click.argument("targets", nargs=-1, type=click.Path())
@click.option(
    "-f", "--force", is_flag=True, help="Overwrite changes that are not saved in the cache."
)
@click.option(
    "--verify", is_flag=True, default=None, help="Re-hash cached objects before using them."
)
@jobs_option
@json_option
@click.pass_context
def checkout_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    force: bool,
    verify: bool | None,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Restore tracked data in the workspace to what the pointer files say.

    TARGETS are data paths, pointer files or pipeline stages (`train`, `dvc.yaml:train`):
    a stage's outputs come back as the lock records them.
    """
    from loopline.data.checkout import checkout

    with open_workspace(ctx, **{"core.jobs": jobs}) as ws:
        results = checkout(
            ws, list(targets), force=force, verify=verify, progress=_progress(as_json)
        )
    if as_json:
        echo_json(
            [
                {
                    "path": r.pointer.path,
                    "action": r.action,
                    "files_written": r.files_written,
                    "files_deleted": r.files_deleted,
                }
                for r in results
            ]
        )
        return
    changed = [r for r in results if r.action != "unchanged"]
    for r in changed:
        mark = "A" if r.action == "added" else "M"
        click.echo(f"{mark}\t{r.pointer.path}")
    if not changed:
        click.echo("Nothing to check out: the workspace matches the pointer files.")


@click.command("gc")
@click.option(
    "-a", "--all-branches", is_flag=True, help="Also keep data referenced by any git branch."
)
@click.option("-T", "--all-tags", is_flag=True, help="Also keep data referenced by any git tag.")
@click.option(
    "-A", "--all-commits", is_flag=True, help="Also keep data referenced by any git commit."
)
@click.option("--dry", is_flag=True, help="Only report what would be removed.")
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Delete without asking (required when not run from a terminal).",
)
@json_option
@click.pass_context
def gc_command(
    ctx: click.Context,
    all_branches: bool,
    all_tags: bool,
    all_commits: bool,
    dry: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Delete cached objects that no pointer file or pipeline lock references.

    On a terminal, gc first says how many objects it would delete and asks for confirmation;
    elsewhere (a script, CI) it refuses unless -f is given. --dry only reports.
    """
    from loopline.data.gc import gc
    from loopline.data.revisions import RevisionScope

    if not (dry or force) and not sys.stdin.isatty():
        raise click.UsageError("gc deletes data: pass -f to confirm, or --dry to preview")
    scope = RevisionScope(all_branches, all_tags, all_commits)
    with open_workspace(ctx) as ws:
        if not (dry or force):
            preview = gc(ws, dry_run=True, scope=scope)
            if preview.removed == 0:
                click.echo(f"Nothing to remove; kept {preview.kept} objects.")
                return
            kept = [
                name
                for name, on in (
                    ("any branch", all_branches),
                    ("any tag", all_tags),
                    ("any commit", all_commits),
                )
                if on
            ]
            where = " or ".join(["the current workspace", *kept])
            click.confirm(
                f"Delete {preview.removed} cached objects ({human_size(preview.freed_bytes)}) "
                f"not used by {where}?",
                abort=True,
            )
        result = gc(ws, dry_run=dry, scope=scope)
    if as_json:
        echo_json(result.__dict__)
        return
    verb = "Would remove" if dry else "Removed"
    click.echo(
        f"{verb} {result.removed} objects ({human_size(result.freed_bytes)}); kept {result.kept}."
    )


@click.command("diff")
@click.argument("rev", default="HEAD")
@json_option
@click.pass_context
def diff_command(ctx: click.Context, rev: str, as_json: bool) -> None:
    """Show tracked files added, deleted or modified since git revision REV (default HEAD)."""
    from loopline.data.diff import diff

    with open_workspace(ctx) as ws:
        result = diff(ws, rev)
    if as_json:
        echo_json(result.as_json())
        return
    sections = (("Added", result.added), ("Deleted", result.deleted), ("Modified", result.modified))
    for title, items in sections:
        if items:
            click.echo(f"{title}:")
            for item in items:
                click.echo(f"    {item['path']}")
            click.echo()
    click.echo(
        f"files summary: {len(result.added)} added, {len(result.deleted)} deleted, "
        f"{len(result.modified)} modified"
    )


@click.command("versions")
@click.argument("path", required=False, type=click.Path())
@json_option
@click.pass_context
def versions_command(ctx: click.Context, path: str | None, as_json: bool) -> None:
    """List every version of tracked data that `loopline add` recorded, newest first.

    The commit column names the first git commit whose pointer file holds that version
    ("uncommitted" until one does).
    """
    import datetime as dt

    from loopline.data.versions import list_versions

    with open_workspace(ctx) as ws:
        versions = list_versions(ws, path)
    if as_json:
        echo_json([v.__dict__ for v in versions])
        return
    rows = [
        (
            dt.datetime.fromtimestamp(v.recorded_at).strftime("%Y-%m-%d %H:%M:%S"),
            v.path,
            v.oid[:12] + (".dir" if v.oid.endswith(".dir") else ""),
            human_size(v.size),
            "" if v.nfiles is None else v.nfiles,
            v.git_commit[:10] if v.git_commit else "uncommitted",
        )
        for v in versions
    ]
    echo_table(("recorded", "path", "oid", "size", "files", "commit"), rows)


def _progress(as_json: bool) -> Progress:
    return NO_PROGRESS if as_json else terminal_progress()
