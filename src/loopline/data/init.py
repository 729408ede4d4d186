"""``loopline init``: create ``.loopline/`` with its config, ignore rules and metadata store."""

from __future__ import annotations

import os
from pathlib import Path

from loopline.core.atomic import atomic_write_text
from loopline.core.project import ProjectPaths, check_dot_dir

__all__ = ["init_project"]

_DOT_GITIGNORE = "/objects/\n/tmp/\n/artifacts/\n/config.local.yaml\n/store.db\n/store.db-*\n"


def init_project(root: Path) -> bool:
    """Make ``root`` a Loopline project; returns False if it already was one (nothing changed)."""
    paths = ProjectPaths(Path(os.path.abspath(root)))
    check_dot_dir(paths.root)
    created = not paths.config_file.is_file()
    paths.dot_dir.mkdir(parents=True, exist_ok=True)
    paths.objects_dir.mkdir(exist_ok=True)
    paths.tmp_dir.mkdir(exist_ok=True)
    gitignore = paths.dot_dir / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, _DOT_GITIGNORE)
    if not paths.config_file.exists():
        atomic_write_text(
            paths.config_file, "# Loopline project settings; see `loopline --help`.\n"
        )
    from loopline.core.config import load_settings
    from loopline.store import open_store

    open_store(load_settings(paths.root).store_url).close()
    return created
