"""``loopline import-dvc``: adopt a DVC repository in place."""

from __future__ import annotations

from pathlib import Path

import click

from loopline.cli._output import echo_json

__all__ = ["import_dvc_command"]

_TITLES = {"converted": "Converted", "unchanged": "Already converted", "skipped": "Skipped"}


@click.command("import-dvc")
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def import_dvc_command(path: str, as_json: bool) -> None:
    """Adopt the DVC repository at PATH (default: here) without touching DVC's files.

    `.dvc` files become .loopline pointers, dvc.lock becomes loopline.lock, DVC's cache is
    copied into Loopline's (verified against DVC's md5) and DVC's remotes become Loopline
    remotes, so the first `loopline repro` skips stages that are up to date. Safe to rerun:
    what Loopline already tracks is kept.
    """
    from loopline.dvc_import import import_dvc

    report = import_dvc(Path(path))
    if as_json:
        echo_json(report.as_json())
        return
    for status, title in _TITLES.items():
        items = report.by_status(status)
        if not items:
            continue
        click.echo(f"{title}:")
        for item in items:
            click.echo(
                f"    {item.kind:<7}{item.name}" + (f"  {item.detail}" if item.detail else "")
            )
    for note in report.notes:
        click.echo(f"note: {note}")
    counts = {s: len(report.by_status(s)) for s in _TITLES}
    click.echo(
        f"{counts['converted']} converted, {counts['unchanged']} already converted, "
        f"{counts['skipped']} skipped."
    )
    if counts["converted"]:
        click.echo(
            "Commit the new .loopline files, loopline.lock and .loopline/config.yaml with git."
        )
